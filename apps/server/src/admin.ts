import { parseArgs } from "node:util";
import { createAccount, ensureDevAccount } from "@berth/registry";
import { runCommandLine, withConnection } from "./command-line";
import { loadDotEnv } from "./config";

const USAGE = `usage: pnpm --filter @berth/server admin <command> [options]

commands:
  create-account --name <name> [--user <user name>]
      create an account with one user and an API key; the key is printed once
  dev-account
      create the development account if missing (uses BERTH_DEV_API_KEY when set)

The database is DATABASE_URL, or the embedded one under BERTH_DATA_DIR (stop \`pnpm start\`
first: the embedded PostgreSQL serves one process).
Blob garbage collection is its own command: pnpm --filter @berth/server gc --help`;

async function main(argv: string[]): Promise<number> {
  loadDotEnv();
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      name: { type: "string" },
      user: { type: "string" },
    },
  });
  if (!command || !["create-account", "dev-account"].includes(command)) {
    console.error(USAGE);
    return 2;
  }
  if (command === "create-account" && !values.name?.trim()) {
    console.error("create-account needs --name <name>");
    return 2;
  }
  return withConnection(async (conn) => {
    if (command === "create-account") {
      const created = await createAccount(conn.db, {
        name: values.name!,
        ...(values.user ? { userName: values.user } : {}),
      });
      console.log(`account  ${created.account.id}  (${created.account.name})`);
      console.log(`user     ${created.user.id}  (${created.user.name})`);
      console.log(`API key  ${created.apiKey}`);
      console.log("Keep the API key now: it is stored only as a hash and cannot be shown again.");
    } else {
      const dev = await ensureDevAccount(conn.db, {
        ...(process.env.BERTH_DEV_API_KEY ? { apiKey: process.env.BERTH_DEV_API_KEY } : {}),
      });
      console.log(`account  ${dev.account.id}  (${dev.created ? "created" : "exists"})`);
      if (dev.apiKey && !process.env.BERTH_DEV_API_KEY) console.log(`API key  ${dev.apiKey}`);
    }
    return 0;
  });
}

runCommandLine(main, { code: 1 });
