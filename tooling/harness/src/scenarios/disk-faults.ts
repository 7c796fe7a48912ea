/** The blob store full (ENOSPC), then read-only (EROFS) (`pnpm fault:disk`). */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Sql } from "@berth/db";
import { checkInvariants, type InvariantReport } from "../invariants";
import { basic, HttpError, pullImage, pushImage, randomImage } from "../oci";
import { type ServiceProcess, startPostgres, startServerProcess } from "../processes";
import type { Actor } from "../workload";
import { type Log, type Setup, setupAccounts } from "./setup";

/** Mount a tmpfs of `mb` MB at `dir` (root only); false when this machine does not allow it. */
export function mountTmpfs(dir: string, mb: number): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${mb}m`, "tmpfs", dir], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function remount(dir: string, mode: "ro" | "rw"): void {
  execFileSync("mount", ["-o", `remount,${mode}`, dir], { stdio: "ignore" });
}

function unmount(dir: string): void {
  try {
    execFileSync("umount", ["-l", dir], { stdio: "ignore" });
  } catch {
    // not mounted
  }
}

export interface Answer {
  what: string;
  status: number;
  body: string;
  /** The Range header of an upload status. */
  range?: string;
}

export interface DiskFaultsReport {
  /**
   * "tmpfs": the store on a real 5 MB filesystem, remounted read-only for the second part;
   * "simulated": a store whose upload area refuses writes past a cap with ENOSPC and, when
   * read-only, with EROFS (for machines that cannot mount).
   */
  mode: "tmpfs" | "simulated";
  capacityMb: number;
  /** Pushes before the store filled up (201 each). */
  pushedBeforeFull: number;
  /** How the push that did not fit was answered, and the chunked upload that did not fit. */
  full: Answer[];
  /** Bytes of the upload area after the failed uploads (their partial bytes given back). */
  uploadBytesAfterFull: number;
  readOnly: Answer[];
  /** A pull of an image stored before, while the store is read-only. */
  pullWhileReadOnly: number;
  /** A push once the store is writable again. */
  pushAfterRecovery: number;
  invariantsAfterFull: InvariantReport;
  invariantsAfterReadOnly: InvariantReport;
  /** Failure events written (a refused upload start is an image.push attempt). */
  events: { action: string; outcome: string; reasonCode: number; reason: string }[];
}

/** A server whose blob store can be made full and read-only. */
export interface DiskEnv {
  mode: DiskFaultsReport["mode"];
  capacityMb: number;
  base: string;
  sql: Sql;
  actor: Actor;
  /** The FsBlobStore root (`<data dir>/blobs`). */
  blobsDir: string;
  readOnly(on: boolean): Promise<void> | void;
}

/**
 * Disk errors of the blob store: pushes until one does not fit (ENOSPC), then the store
 * read-only (EROFS). Each failing push must be answered with a clear error, leave nothing
 * referenced that is not stored (invariants), and give back the space of what it wrote;
 * reads keep working while the store is read-only, and pushes work again once it is
 * writable.
 */
export async function runDiskFaults(env: DiskEnv, prefix: string): Promise<DiskFaultsReport> {
  const { base, actor } = env;
  const auth = basic("iamapikey", actor.apiKey);
  const repo = `${actor.namespace}/disk`;
  const answer = async (what: string, res: Response): Promise<Answer> => ({
    what,
    status: res.status,
    body: await res.text(),
    ...(res.headers.get("range") ? { range: res.headers.get("range")! } : {}),
  });

  // 1. Fill the store: pushes of a 1.5 MB layer until one does not fit.
  let pushed = 0;
  const full: Answer[] = [];
  for (let i = 0; i < 10 && full.length === 0; i++) {
    try {
      await pushImage(base, repo, `full${i}`, randomImage([1536 * 1024]), {
        auth,
        requestId: `${prefix}-full-${i}`,
      });
      pushed++;
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      full.push({
        what: "monolithic blob upload (POST ?digest=)",
        status: error.status,
        body: error.body,
      });
    }
  }
  // A chunked upload whose chunk does not fit.
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, {
    method: "POST",
    headers: { authorization: auth },
  });
  const location = start.headers.get("location");
  if (start.status === 202 && location) {
    const chunk = randomBytes(3 * 1024 * 1024);
    full.push(
      await answer(
        "chunk of a chunked upload (PATCH)",
        await fetch(`${base}${location}`, {
          method: "PATCH",
          headers: {
            authorization: auth,
            "content-type": "application/octet-stream",
            "content-range": `0-${chunk.length - 1}`,
          },
          body: chunk,
        }),
      ),
    );
    full.push(
      await answer(
        "status of that upload (GET)",
        await fetch(`${base}${location}`, { headers: { authorization: auth } }),
      ),
    );
    await fetch(`${base}${location}`, { method: "DELETE", headers: { authorization: auth } });
  } else {
    full.push(await answer("start of a chunked upload (POST)", start));
  }
  const uploadBytesAfterFull = await dirBytes(join(env.blobsDir, "uploads"));
  const invariantsAfterFull = await checkInvariants(env.sql, env.blobsDir);

  // 2. Read-only.
  await env.readOnly(true);
  const readOnly: Answer[] = [];
  try {
    await pushImage(base, repo, "ro", randomImage([4096]), { auth, requestId: `${prefix}-ro` });
    readOnly.push({ what: "push", status: 201, body: "" });
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    readOnly.push({ what: "push (blob upload start)", status: error.status, body: error.body });
  }
  let pullWhileReadOnly = 0;
  try {
    await pullImage(base, repo, "full0", { auth, requestId: `${prefix}-ro-pull` });
    pullWhileReadOnly = 200;
  } catch (error) {
    pullWhileReadOnly = error instanceof HttpError ? error.status : -1;
  }
  const invariantsAfterReadOnly = await checkInvariants(env.sql, env.blobsDir);
  await env.readOnly(false);
  let pushAfterRecovery = 0;
  try {
    await pushImage(base, repo, "back", randomImage([4096]), {
      auth,
      requestId: `${prefix}-back`,
    });
    pushAfterRecovery = 201;
  } catch (error) {
    pushAfterRecovery = error instanceof HttpError ? error.status : -1;
  }
  const events = (
    await env.sql`
      select payload->>'action' as action, payload->>'outcome' as outcome,
             (payload->'reason'->>'reasonCode')::int as "reasonCode",
             coalesce(payload->'reason'->>'reasonForFailure', '') as reason
        from outbox where payload->>'outcome' = 'failure' order by seq`
  ).map((r) => ({
    action: r.action as string,
    outcome: r.outcome as string,
    reasonCode: r.reasonCode as number,
    reason: r.reason as string,
  }));
  return {
    mode: env.mode,
    capacityMb: env.capacityMb,
    pushedBeforeFull: pushed,
    full,
    uploadBytesAfterFull,
    readOnly,
    pullWhileReadOnly,
    pushAfterRecovery,
    invariantsAfterFull,
    invariantsAfterReadOnly,
    events,
  };
}

/**
 * The disk scenario under a server process whose store is a 5 MB tmpfs (root only):
 * null when this machine does not allow mounting one.
 */
export async function diskFaults(opts: { log?: Log } = {}): Promise<DiskFaultsReport | null> {
  const log = opts.log ?? (() => {});
  const dataDir = mkdtempSync(join(tmpdir(), "berth-fault-disk-"));
  const blobsDir = join(dataDir, "blobs");
  mkdirSync(blobsDir);
  const capacityMb = 5;
  if (!mountTmpfs(blobsDir, capacityMb)) return null;
  const prefix = `d${Date.now().toString(36)}`;
  let pg: Awaited<ReturnType<typeof startPostgres>> | undefined;
  let server: ServiceProcess | undefined;
  let setup: Setup | undefined;
  try {
    pg = await startPostgres();
    server = await startServerProcess({ databaseUrl: pg.url, dataDir, logLevel: "warn" });
    setup = await setupAccounts(pg.url, server.url, prefix, 1);
    log(`store on a ${capacityMb} MB tmpfs at ${blobsDir}`);
    return await runDiskFaults(
      {
        mode: "tmpfs",
        capacityMb,
        base: server.url,
        sql: setup.sql,
        actor: setup.actors[0]!,
        blobsDir,
        readOnly(on) {
          remount(blobsDir, on ? "ro" : "rw");
          log(on ? "store remounted read-only" : "store writable again");
        },
      },
      prefix,
    );
  } finally {
    await setup?.close().catch(() => {});
    await server?.stop();
    await pg?.destroy();
    unmount(blobsDir);
  }
}

async function dirBytes(dir: string): Promise<number> {
  const { readdir, stat: statFile } = await import("node:fs/promises");
  let total = 0;
  try {
    for (const name of await readdir(dir)) total += (await statFile(join(dir, name))).size;
  } catch {
    // no such folder: nothing in it
  }
  return total;
}
