import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { connect } from "../src/connect";
import { migrate } from "../src/migrate";
import { createTestDatabase } from "../src/testing";

describe("migrations", () => {
  it("apply to an empty database, and again without error", async () => {
    const t = await createTestDatabase();
    try {
      await migrate(t.url);
      await Promise.all([migrate(t.url), migrate(t.url)]);
      const rows = await t.db.execute<{ table_name: string }>(
        sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`,
      );
      expect(rows.map((r) => r.table_name)).toEqual(
        expect.arrayContaining([
          "accounts",
          "namespaces",
          "manifests",
          "tags",
          "outbox",
          "registry_tokens",
        ]),
      );
    } finally {
      await t.drop();
    }
  });
});

describe("connect() on the embedded default", () => {
  it("starts Postgres, keeps data across restarts, and survives a stale pid file", async () => {
    const parent = mkdtempSync(join(tmpdir(), "berth-connect-"));
    chmodSync(parent, 0o755);
    const dataDir = join(parent, "pg");
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      const first = await connect({ dataDir });
      expect(first.embedded).toBeDefined();
      await first.db.execute(sql`insert into accounts (id, name) values ('persist', 'p')`);
      await first.close();
      // What a kill -9 leaves behind: a pid file naming a process that is gone.
      writeFileSync(join(dataDir, "postmaster.pid"), "999999\n");
      const second = await connect({ dataDir });
      const rows = await second.db.execute<{ id: string }>(sql`select id from accounts`);
      expect(rows.map((r) => r.id)).toEqual(["persist"]);
      await second.close();
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
  });
});
