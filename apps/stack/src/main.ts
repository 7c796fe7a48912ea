import { connect } from "@berth/db";

// `pnpm start`: the whole stack on the embedded default. Ctrl-C stops it cleanly.
const conn = await connect({ log: () => {} });
const where = conn.embedded
  ? `embedded PostgreSQL on 127.0.0.1:${conn.embedded.port}`
  : "DATABASE_URL";
console.log(`postgres  ${where} (migrations applied)`);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping`);
  await conn.close();
  console.log("stopped");
  process.exit(0);
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
// Keep the process alive until a signal arrives.
setInterval(() => {}, 1 << 30);
