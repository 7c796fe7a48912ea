import { parseArgs } from "node:util";
import { connect, listDead, redrive } from "@berth/db";

// `pnpm --filter @berth/worker redrive [--id <event id>]... [--account <id>] [--list]`:
// send dead-lettered events again (all of them when neither --id nor --account is given).
const { values } = parseArgs({
  options: {
    id: { type: "string", multiple: true },
    account: { type: "string" },
    list: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(
    "usage: redrive [--id <event id>]... [--account <account id>] [--list]\n" +
      "  --list  show the dead-lettered events (with their reasons) instead of redriving",
  );
  process.exit(0);
}
const conn = await connect({ log: () => {} });
try {
  if (values.list) {
    const dead = await listDead(conn.db, { accountId: values.account, limit: 1000 });
    for (const d of dead) {
      console.log(
        `${d.id}  ${d.accountId}  ${d.region}  ${d.action}  attempts=${d.attempts}  ${d.lastError ?? ""}`,
      );
    }
    console.log(`${dead.length} dead-lettered event(s)`);
  } else {
    const n = await redrive(conn.db, { ids: values.id, accountId: values.account });
    console.log(`redriven: ${n} event(s) back to pending`);
  }
} finally {
  await conn.close();
}
