import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { uploadSessions } from "@berth/db";
import { until } from "@berth/harness";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { forFile } from "./helpers";
import { sha256 } from "./oci-client";
import {
  heldPatch,
  startProcessBed,
  startServerProcess,
  stopServerProcesses,
} from "./upload-processes";

// Two server processes write one upload at the same time. The upload's state (S3: the
// multipart upload, its parts and tail) is in its Postgres row, and a request holds the row's
// lease while it writes: a second writer, on either process, is refused (400 while the first
// runs, 416 once the upload has moved on), never interleaved. Run on S3 (moto_server) and on
// one folder of files shared by both processes (the stack's processes of one machine).

const MiB = 1024 * 1024;
const bed = await forFile(startProcessBed());
const { client, patch } = bed;

async function writerOf(id: string): Promise<string | null> {
  const rows = await bed.t.db
    .select({ writer: uploadSessions.writer })
    .from(uploadSessions)
    .where(eq(uploadSessions.id, id));
  return rows[0]?.writer ?? null;
}

async function body(r: Response): Promise<string> {
  return r.text();
}

describe.each([
  {
    name: "s3 (moto_server)",
    env: async (): Promise<Record<string, string>> => bed.s3Env(await bed.moto.bucket()),
  },
  {
    name: "files shared by both processes",
    env: async (): Promise<Record<string, string>> => ({
      DATABASE_URL: bed.t.url,
      BERTH_STORAGE: mkdtempSync(join(tmpdir(), "berth-shared-")),
      BERTH_TOKEN_SECRET: randomBytes(32).toString("hex"),
    }),
  },
])("one upload written from two processes at once: $name", ({ env }) => {
  it("lets one request write at a time and keeps the blob whole", async () => {
    const shared = await env();
    const [A, B] = await Promise.all([startServerProcess(shared), startServerProcess(shared)]);
    const repo = `alicens/race-${randomUUID().slice(0, 8)}`;
    const start = await client(A).request("POST", `/v2/${repo}/blobs/uploads/`);
    expect(start.status, await start.clone().text()).toBe(202);
    const location = start.headers.get("location")!;
    const id = location.split("/").pop()!;
    const kept: Buffer[] = [];

    // A holds the upload while its chunk streams in: B may not write it, finish it or cancel it.
    const first = randomBytes(2 * MiB + 17);
    const held = heldPatch(bed, A, location, first, 0);
    // Bounded: two minutes, a tenth of a second apart.
    await until(
      "A to hold the upload",
      async () => ((await writerOf(id)) ? true : undefined),
      120_000,
    );
    const meanwhile = await patch(B, location, randomBytes(1000), 0);
    expect(meanwhile.status, "a PATCH on B while A writes").toBe(400);
    expect(await body(meanwhile)).toMatch(/another request is writing/);
    const closing = await client(B).request("PUT", `${location}?digest=${sha256(first)}`);
    expect(closing.status, "a PUT on B while A writes").toBe(400);
    const cancel = await client(B).request("DELETE", location);
    expect(cancel.status, "a DELETE on B while A writes").toBe(400);
    held.finish();
    expect(await held.answer).toEqual({ status: 202, range: `0-${first.length - 1}` });
    kept.push(first);
    expect(await writerOf(id)).toBeNull();

    // B's chunk for the same range, sent after A's: out of order now (416), with where it stands.
    const late = await patch(B, location, randomBytes(1000), 0);
    expect(late.status).toBe(416);
    expect(late.headers.get("range")).toBe(`0-${first.length - 1}`);

    // Both at once, for the same range, many times: exactly one wins each round (whichever
    // the database lets take the lease first), the other is refused, and nothing interleaves.
    let offset = first.length;
    for (let round = 0; round < 6; round++) {
      const mine = [randomBytes(2 * MiB + round), randomBytes(2 * MiB + round)];
      const answers = await Promise.all([
        patch(A, location, mine[0]!, offset),
        patch(B, location, mine[1]!, offset),
      ]);
      const statuses = answers.map((r) => r.status);
      const won = statuses.indexOf(202);
      expect(
        statuses.filter((s) => s === 202).length,
        `round ${round}: ${statuses} ${await Promise.all(answers.map((r) => r.clone().text()))}`,
      ).toBe(1);
      expect([400, 416], `round ${round}: the loser's status`).toContain(statuses[1 - won]);
      kept.push(mine[won]!);
      offset += mine[won]!.length;
      expect(answers[won]!.headers.get("range")).toBe(`0-${offset - 1}`);
    }

    const whole = Buffer.concat(kept);
    const digest = sha256(whole);
    const put = await client(B).request("PUT", `${location}?digest=${digest}`);
    expect(put.status, await put.clone().text()).toBe(201);
    for (const p of [A, B]) {
      const got = await client(p).request("GET", `/v2/${repo}/blobs/${digest}`);
      const bytes =
        got.status === 307
          ? Buffer.from(await (await fetch(got.headers.get("location")!)).arrayBuffer())
          : Buffer.from(await got.arrayBuffer());
      expect(bytes.length, `pulled through ${p.host}`).toBe(whole.length);
      expect(sha256(bytes), `pulled through ${p.host}`).toBe(digest);
    }
    await stopServerProcesses();
  }, 600_000);
});
