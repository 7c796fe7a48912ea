import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AtEvent, eventSchema, type RegionName } from "@berth/core";
import { outbox } from "@berth/db";
import {
  type CreatedAccount,
  createAccount,
  createNamespace,
  createRegistryToken,
  type RegistryContext,
  setQuota,
} from "@berth/registry";
import { apiKeyPrincipal, testContext } from "@berth/registry/testing";
import { asc } from "drizzle-orm";
import { startTestServer, type TestServer } from "./helpers";

/** The Debian package that provides each tool the OCI tests run. */
const PACKAGES: Record<string, string> = {
  skopeo: "skopeo",
  podman: "podman",
  umoci: "umoci",
  "docker-registry": "docker-registry",
  docker: "docker.io",
  dockerd: "docker.io",
};

const checked = new Map<string, Promise<void>>();

/**
 * Fail, loudly, when a client the tests need is missing: CI installs them (`.ci/run`), so
 * a missing tool is a broken environment, never a reason to skip.
 */
export function requireTool(name: string): Promise<void> {
  let check = checked.get(name);
  if (!check) {
    check = run("sh", ["-c", `command -v ${name}`]).then((r) => {
      if (r.code !== 0) {
        throw new Error(
          `${name} is required by the OCI tests but is not installed: apt-get install ${PACKAGES[name] ?? name}`,
        );
      }
    });
    checked.set(name, check);
  }
  return check;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program (no shell), bounded in time, and collect its output; `input` is its stdin. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        env: { ...process.env, ...opts.env },
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code =
          error === null ? 0 : typeof error.code === "number" ? error.code : error.killed ? 124 : 1;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) {
      // A program that exits without reading its input is answered by its exit code.
      child.stdin?.on("error", () => {});
      child.stdin?.end(opts.input);
    }
  });
}

/** Run and require success; the error shows the command and what it printed. */
export async function ok(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  }
  return r.stdout;
}

/**
 * Environment for skopeo and podman with their home, auth file and caches under `tmp`, so
 * that no test reads or writes the user's.
 */
export function clientEnvIn(tmp: string): Record<string, string> {
  const home = join(tmp, "home");
  mkdirSync(home, { recursive: true });
  writeFileSync(join(tmp, "auth.json"), JSON.stringify({ auths: {} }));
  return {
    HOME: home,
    REGISTRY_AUTH_FILE: join(tmp, "auth.json"),
    XDG_RUNTIME_DIR: join(tmp, "run"),
    XDG_DATA_HOME: join(home, ".local", "share"),
    XDG_CONFIG_HOME: join(home, ".config"),
  };
}

/**
 * podman on an image store of its own under `root` (vfs storage, cgroupfs, events to a
 * file), so it needs neither a daemon nor privileges; `run` returns what it printed and its
 * code, `ok` requires success.
 */
export function podmanIn(root: string, env: Record<string, string>) {
  const argv = (args: string[]) => [
    ...["--root", join(root, "root"), "--runroot", join(root, "run")],
    ...["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"],
    ...args,
  ];
  const opts = { env, timeoutMs: 180_000 };
  return {
    run: (args: string[]) => run("podman", argv(args), opts),
    ok: (args: string[]) => ok("podman", argv(args), opts),
  };
}

export interface LoggedRequest {
  id: string;
  method: string;
  url: string;
  status?: number;
}

/**
 * The requests a server logged (pino lines), in order: id (the events' correlationId),
 * method, path (the log keeps no query) and the status answered.
 */
export function loggedRequests(logs: string[]): LoggedRequest[] {
  const byId = new Map<string, LoggedRequest>();
  for (const line of logs) {
    const entry = JSON.parse(line) as {
      reqId?: string;
      req?: { method: string; url: string };
      res?: { statusCode: number };
    };
    if (!entry.reqId) continue;
    if (entry.req) {
      byId.set(entry.reqId, { id: entry.reqId, method: entry.req.method, url: entry.req.url });
    }
    const known = byId.get(entry.reqId);
    if (entry.res && known) known.status = entry.res.statusCode;
  }
  return [...byId.values()];
}

export interface OciEnv extends TestServer {
  /** `127.0.0.1:<port>` of the us-south endpoint, as clients write it in references. */
  host: string;
  tmp: string;
  ctx(who: CreatedAccount, region?: RegionName): RegistryContext;
  namespace(who: CreatedAccount, name: string): Promise<void>;
  /** A registry token of the account; returns its secret. */
  registryToken(who: CreatedAccount, access: "read" | "readwrite"): Promise<string>;
  storageQuota(who: CreatedAccount, mb: number): Promise<void>;
  trafficQuota(who: CreatedAccount, mb: number): Promise<void>;
  /**
   * Another tenant: the account `name` (its user `name@example.com`) with the namespace
   * `${name}ns` in us-south and, where given, its storage and traffic quotas in MB.
   */
  tenant(name: string, quota?: { storageMb?: number; trafficMb?: number }): Promise<CreatedAccount>;
  /** Every event in the outbox, validated against core's schema, oldest first. */
  allEvents(action?: string): Promise<AtEvent[]>;
  /** Environment for skopeo and podman: auth file and caches under the test's temp folder. */
  clientEnv: Record<string, string>;
}

/** A test server with what the OCI tests use; fails first when a client in `tools` is missing. */
export async function startOciEnv(tools: string[] = []): Promise<OciEnv> {
  await Promise.all(tools.map(requireTool));
  const base = await startTestServer();
  const tmp = mkdtempSync(join(tmpdir(), "berth-oci-"));
  const host = new URL(base.url()).host;
  let n = 0;
  const ctx = (who: CreatedAccount, region: RegionName = "us-south") =>
    testContext({
      db: base.t.db,
      store: base.store,
      principal: apiKeyPrincipal(who.account, who.user),
      region,
      requestId: `setup-${++n}`,
    });
  return {
    ...base,
    host,
    tmp,
    ctx,
    async namespace(who, name) {
      await createNamespace(ctx(who), { name });
    },
    async registryToken(who, access) {
      const token = await createRegistryToken(ctx(who), { access, description: "test" });
      return token.secret;
    },
    async storageQuota(who, mb) {
      await setQuota(ctx(who), { storageMb: mb });
    },
    async trafficQuota(who, mb) {
      await setQuota(ctx(who), { trafficMb: mb });
    },
    async tenant(name, quota) {
      const who = await createAccount(base.t.db, { name, userName: `${name}@example.com` });
      await createNamespace(ctx(who), { name: `${name}ns` });
      if (quota) await setQuota(ctx(who), quota);
      return who;
    },
    async allEvents(action) {
      const rows = await base.t.db
        .select({ payload: outbox.payload })
        .from(outbox)
        .orderBy(asc(outbox.seq));
      return rows
        .map((r) => eventSchema.parse(r.payload))
        .filter((e) => action === undefined || e.action === action);
    },
    clientEnv: clientEnvIn(tmp),
  };
}

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Bytes of a blob of an OCI image layout. */
export function layoutBlob(layout: string, digest: string): Buffer {
  const [algorithm, hex] = digest.split(":");
  return readFileSync(join(layout, "blobs", algorithm!, hex!));
}

/** The manifest descriptor a tag names in an OCI layout's index.json. */
export function layoutRef(
  layout: string,
  tag: string,
): { digest: string; mediaType: string; size: number } {
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
    manifests: {
      digest: string;
      mediaType: string;
      size: number;
      annotations?: Record<string, string>;
    }[];
  };
  const found = index.manifests.find(
    (m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag,
  );
  if (!found) throw new Error(`tag ${tag} is not in ${layout}`);
  return found;
}

/** Digests a manifest (or index) of a layout references, itself included, recursively. */
export function layoutClosure(layout: string, digest: string): string[] {
  const out = [digest];
  const json = JSON.parse(layoutBlob(layout, digest).toString("utf8")) as {
    config?: { digest: string };
    layers?: { digest: string }[];
    manifests?: { digest: string }[];
  };
  if (json.config) out.push(json.config.digest);
  for (const l of json.layers ?? []) out.push(l.digest);
  for (const m of json.manifests ?? []) out.push(...layoutClosure(layout, m.digest));
  return out;
}

/** Add a blob to a layout (for hand-made indexes). */
export function writeLayoutBlob(layout: string, bytes: Buffer): string {
  const digest = sha256(bytes);
  writeFileSync(join(layout, "blobs", "sha256", digest.slice(7)), bytes);
  return digest;
}

/** Point a tag of a layout's index.json at a descriptor. */
export function tagLayout(
  layout: string,
  tag: string,
  descriptor: { digest: string; mediaType: string; size: number },
): void {
  const path = join(layout, "index.json");
  const index = JSON.parse(readFileSync(path, "utf8")) as { manifests: unknown[] };
  index.manifests.push({
    ...descriptor,
    annotations: { "org.opencontainers.image.ref.name": tag },
  });
  writeFileSync(path, JSON.stringify(index));
}

/**
 * An OCI layout built with umoci: `tag` with one layer per entry of `layers` (files under
 * /app), for `architecture`.
 */
export async function umociImage(
  layout: string,
  tag: string,
  opts: { layers: Record<string, Buffer | string>[]; architecture?: string },
): Promise<void> {
  await requireTool("umoci");
  const exists = await run("test", ["-e", join(layout, "index.json")]);
  if (exists.code !== 0) await ok("umoci", ["init", "--layout", layout]);
  const base = `${tag}-base`;
  await ok("umoci", ["new", "--image", `${layout}:${base}`]);
  let i = 0;
  for (const files of opts.layers) {
    const dir = mkdtempSync(join(tmpdir(), "berth-layer-"));
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    await ok("umoci", ["insert", "--image", `${layout}:${base}`, dir, `/app/l${i++}`]);
  }
  await ok("umoci", [
    "config",
    "--image",
    `${layout}:${base}`,
    "--tag",
    tag,
    "--config.cmd=/app/l0/run",
    `--architecture=${opts.architecture ?? "amd64"}`,
    "--os=linux",
  ]);
  await ok("umoci", ["rm", "--image", `${layout}:${base}`]);
}
