import { parseArgs } from "node:util";
import { dataRoot } from "@berth/db";
import { collectBlobs, openBlobStore, purgeExpiredTrash } from "@berth/registry";
import { runCommandLine, withConnection } from "./command-line";
import { loadConfig, loadDotEnv } from "./config";

const USAGE = `usage: pnpm --filter @berth/server gc [options]

Garbage-collects blob storage, safely while pushes run (the server also does it hourly):
expired trash entries (one event each), abandoned uploads, blobs that no image uses any more, files left without a record.

options:
  --grace-minutes <n>      never collect anything younger than this (default 60)
  --upload-ttl-hours <n>   uploads without a write for this long are abandoned (default 24)
  --link-ttl-days <n>      unlink blobs uploaded but unused by any manifest for this long
                           (a push that never finished; default 7)
  --keep-unreferenced      never unlink such blobs

The database is DATABASE_URL, or the embedded one under BERTH_DATA_DIR (stop \`pnpm start\`
first: the embedded PostgreSQL serves one process); blobs are where BERTH_STORAGE says
(default BERTH_DATA_DIR/blobs; s3://bucket/prefix with the AWS_* variables).`;

function number(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number ≥ 0`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  loadDotEnv();
  const { values } = parseArgs({
    args: argv,
    options: {
      "grace-minutes": { type: "string" },
      "upload-ttl-hours": { type: "string" },
      "link-ttl-days": { type: "string" },
      "keep-unreferenced": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const graceMs = number(values["grace-minutes"], 60, "grace-minutes") * 60_000;
  const uploadTtlMs = number(values["upload-ttl-hours"], 24, "upload-ttl-hours") * 3_600_000;
  const linkTtlMs = values["keep-unreferenced"]
    ? null
    : number(values["link-ttl-days"], 7, "link-ttl-days") * 86_400_000;
  const config = loadConfig();
  const store = await openBlobStore({ spec: config.storage, dataDir: dataRoot() });
  return withConnection(async (conn) => {
    // Expired trash first, each with its event, so its blobs are collected in this run.
    const trash = await purgeExpiredTrash(conn.db, store);
    console.log(`expired trash purged       ${trash.purged}`);
    const report = await collectBlobs(conn.db, store, {
      graceMs,
      uploadTtlMs,
      unreferencedLinkTtlMs: linkTtlMs,
    });
    console.log(`abandoned uploads removed  ${report.abandonedUploads}`);
    console.log(`unreferenced links removed ${report.unlinked}`);
    console.log(`blobs removed              ${report.removed.length} (${report.bytes} bytes)`);
    console.log(`orphan files removed       ${report.orphanFiles}`);
    return 0;
  });
}

runCommandLine(main, { code: 2, usage: USAGE });
