import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import { type CreatedAccount, createAccount, createNamespace } from "@berth/registry";
import { apiKeyPrincipal, type Moto, startMoto, testContext } from "@berth/registry/testing";
import { OciClient } from "./oci-client";

// Real server processes (`src/main.ts`) on one database, for the tests of uploads that move
// between processes: each in its own process group (tsx runs the server in a child), so that
// a test can SIGKILL the whole of one and stop them all at the end.

const root = fileURLToPath(new URL("..", import.meta.url));
const tsx = join(root, "node_modules", ".bin", "tsx");

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  host: string;
  stderr: string[];
  /** SIGKILL the process group: no shutdown, no cleanup, as a crash or an OOM kill. */
  kill(): Promise<void>;
}

const started: ServerProcess[] = [];

/** Start a server process with `env` over the test's own; resolves once it listens. */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(tsx, [join("src", "main.ts")], {
    cwd: root,
    env: {
      ...process.env,
      BERTH_DATA_DIR: mkdtempSync(join(tmpdir(), "berth-proc-")),
      BERTH_REGIONS: "us-south=0",
      BERTH_LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout!.on("data", (d) => stdout.push(String(d)));
  child.stderr!.on("data", (d) => stderr.push(String(d)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (child.pid) process.kill(-child.pid, "SIGKILL");
    await exited;
  };
  // Bounded: three minutes for a process to start on a busy machine.
  for (let i = 0; i < 1800; i++) {
    const m = /listening on (http:\/\/[0-9.:]+)/.exec(stdout.join(""));
    if (m) {
      const proc = { child, url: m[1]!, host: new URL(m[1]!).host, stderr, kill };
      started.push(proc);
      return proc;
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await kill();
  throw new Error(`server process did not start: ${stderr.join("")}${stdout.join("")}`);
}

/** Stop every process started here (SIGTERM to each group) and wait for them. */
export async function stopServerProcesses(): Promise<void> {
  const running = started
    .splice(0)
    .filter((p) => p.child.exitCode === null && p.child.signalCode === null);
  const exits = running.map((p) => new Promise((r) => p.child.once("exit", r)));
  for (const p of running) {
    try {
      if (p.child.pid) process.kill(-p.child.pid, "SIGTERM");
    } catch {
      // Gone already.
    }
  }
  await Promise.all(exits);
}

/** An account `alice` with the namespace `alicens` in us-south, for pushes through /v2. */
export async function aliceWithNamespace(t: TestDatabase): Promise<CreatedAccount> {
  const alice = await createAccount(t.db, { name: "alice", userName: "alice@example.com" });
  await createNamespace(
    testContext({
      db: t.db,
      // Namespaces touch no blob; the processes have their own stores.
      store: undefined as never,
      principal: apiKeyPrincipal(alice.account, alice.user),
      region: "us-south",
      requestId: "setup",
    }),
    { name: "alicens" },
  );
  return alice;
}

/** What the multi-process tests share: moto_server, a test database, alice and her client. */
export interface ProcessBed {
  t: TestDatabase;
  moto: Moto;
  alice: CreatedAccount;
  /** Alice's client of one process (Basic credentials: her API key). */
  client(p: ServerProcess): OciClient;
  /** Alice's PATCH of `bytes` at offset `start` of an upload, through `p`. */
  patch(p: ServerProcess, location: string, bytes: Buffer, start: number): Promise<Response>;
  /** The environment of processes on this database storing in `bucket` (one token secret). */
  s3Env(bucket: string): Record<string, string>;
  /** Stop the processes, moto_server and the database. */
  close(): Promise<void>;
}

export async function startProcessBed(): Promise<ProcessBed> {
  const moto = await startMoto();
  const t = await createTestDatabase();
  const alice = await aliceWithNamespace(t);
  const client = (p: ServerProcess) => OciClient.basic(p.url, "iamapikey", alice.apiKey);
  return {
    t,
    moto,
    alice,
    client,
    patch: (p, location, bytes, start) =>
      client(p).request("PATCH", location, {
        body: bytes,
        headers: {
          "content-type": "application/octet-stream",
          "content-range": `${start}-${start + bytes.length - 1}`,
        },
      }),
    s3Env: (bucket) => ({
      ...moto.env,
      DATABASE_URL: t.url,
      BERTH_STORAGE: `s3://${bucket}/berth`,
      BERTH_TOKEN_SECRET: randomBytes(32).toString("hex"),
    }),
    async close() {
      await stopServerProcesses();
      await moto.stop();
      await t.drop();
    },
  };
}

/**
 * A PATCH whose body is sent in two halves: the server holds the upload from the moment it
 * takes the request, so the test can act while it is held. `finish` sends the rest; `answer`
 * is the response, or status 0 and the error when the connection broke (the process died).
 */
export function heldPatch(
  bed: ProcessBed,
  p: ServerProcess,
  location: string,
  bytes: Buffer,
  start: number,
) {
  const req = httpRequest(new URL(location, p.url), {
    method: "PATCH",
    headers: {
      authorization: bed.client(p).authorization!,
      "content-type": "application/octet-stream",
      "content-length": String(bytes.length),
      "content-range": `${start}-${start + bytes.length - 1}`,
    },
  });
  const answer = new Promise<{ status: number; range: string | undefined; error?: string }>(
    (resolve) => {
      req.once("response", (res) => {
        res.resume();
        res.once("end", () =>
          resolve({ status: res.statusCode ?? 0, range: res.headers.range as string | undefined }),
        );
      });
      req.once("error", (e) => resolve({ status: 0, range: undefined, error: String(e) }));
    },
  );
  const half = Math.floor(bytes.length / 2);
  req.write(bytes.subarray(0, half));
  return {
    answer,
    finish: () => req.end(bytes.subarray(half)),
    /** Drop the connection without the rest of the body. */
    abort: () => req.destroy(),
  };
}
