import { join } from "node:path";
import { parseArgs } from "node:util";
import { connect, dataRoot } from "@berth/db";
import { collectGarbage, createAccount, ensureDevAccount, FsBlobStore } from "@berth/registry";
import { loadDotEnv } from "./config";

const USAGE = `usage: pnpm --filter @berth/server admin <command> [options]

commands:
  create-account --name <name> [--user <user name>]
      create an account with one user and an API key; the key is printed once
  dev-account
      create the development account if missing (uses BERTH_DEV_API_KEY when set)
  gc [--older-than-minutes <n>]
      delete blob files that no repository uses any more (default: unused for 60 minutes)

The database is DATABASE_URL, or the embedded one under BERTH_DATA_DIR (stop \`pnpm start\`
first: the embedded PostgreSQL serves one process).`;

async function main(argv: string[]): Promise<number> {
  loadDotEnv();
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      name: { type: "string" },
      user: { type: "string" },
      "older-than-minutes": { type: "string" },
    },
  });
  if (!command || !["create-account", "dev-account", "gc"].includes(command)) {
    console.error(USAGE);
    return 2;
  }
  if (command === "create-account" && !values.name?.trim()) {
    console.error("create-account needs --name <name>");
    return 2;
  }
  const conn = await connect();
  try {
    if (command === "create-account") {
      const created = await createAccount(conn.db, {
        name: values.name!,
        ...(values.user ? { userName: values.user } : {}),
      });
      console.log(`account  ${created.account.id}  (${created.account.name})`);
      console.log(`user     ${created.user.id}  (${created.user.name})`);
      console.log(`API key  ${created.apiKey}`);
      console.log("Keep the API key now: it is stored only as a hash and cannot be shown again.");
    } else if (command === "dev-account") {
      const dev = await ensureDevAccount(conn.db, {
        ...(process.env.BERTH_DEV_API_KEY ? { apiKey: process.env.BERTH_DEV_API_KEY } : {}),
      });
      console.log(`account  ${dev.account.id}  (${dev.created ? "created" : "exists"})`);
      if (dev.apiKey && !process.env.BERTH_DEV_API_KEY) console.log(`API key  ${dev.apiKey}`);
    } else {
      const minutes = Number(values["older-than-minutes"] ?? 60);
      if (!Number.isFinite(minutes) || minutes < 0) {
        console.error("--older-than-minutes must be a number of minutes");
        return 2;
      }
      const store = new FsBlobStore(join(dataRoot(), "blobs"));
      const gc = await collectGarbage(conn.db, store, { olderThanMs: minutes * 60_000 });
      console.log(`removed ${gc.removed.length} blobs, ${gc.bytes} bytes`);
    }
    return 0;
  } finally {
    await conn.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
