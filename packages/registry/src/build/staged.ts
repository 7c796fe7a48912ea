import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, mkdtempSync } from "node:fs";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { RegionName } from "@berth/core";
import type { RegistryContext } from "../context";
import { notFound, RegistryError } from "../errors";
import type { BlobSource, BlobStore } from "../storage/blob-store";
import type { BuildBudget } from "./budget";
import { type BuildContextFiles, ContextError, readContext } from "./context";
import { buildLimits } from "./limits";

/*
 * A build context is uploaded before the build (`POST /build/context` on the server) and kept
 * for an hour under an id of 192 random bits, in a folder of its account and region outside
 * the blob store's tree:
 *
 *     <blob store root>/contexts/<account>/<region>/ctx_<48 hex>
 *
 * A build finds a context only in its caller's own folder. Nothing else is a context: not a
 * blob digest (another tenant's layer, or another tenant's context), not another account's id,
 * not an expired one; each gets the same not-found answer, so a build can neither read nor
 * tell the existence of anything it did not upload itself. An account holds at most
 * `contextsPerAccount` contexts and `contextBytesPerAccount` bytes of them at once.
 */

export interface StagedContext {
  /** Pass as `context` to image.build. */
  context: string;
  size: number;
}

/** Who stages a context: the contexts are theirs alone. */
export interface ContextOwner {
  store: BlobStore;
  accountId: string;
  region: RegionName;
}

export class ContextTooLargeError extends RegistryError {
  constructor(readonly limit: number) {
    super("BAD_REQUEST", `the build context is larger than ${limit} bytes`);
  }
}

/** The account holds as many staged contexts, or bytes of them, as it may. */
export class ContextBudgetError extends RegistryError {
  constructor(
    readonly kind: "count" | "bytes",
    message: string,
  ) {
    super("BAD_REQUEST", message);
  }
}

const CONTEXT_ID = /^ctx_[0-9a-f]{48}$/;
const NOT_FOUND_MESSAGE =
  "the build context was not found: upload it (POST /build/context) and build from the id it answers within the hour";

const roots = new WeakMap<BlobStore, string>();

/** The folder of staged contexts beside a store's blobs (a private temporary one for others). */
function rootOf(store: BlobStore): string {
  let root = roots.get(store);
  if (!root) {
    const storeRoot = (store as { root?: unknown }).root;
    root =
      typeof storeRoot === "string"
        ? join(storeRoot, "contexts")
        : mkdtempSync(join(tmpdir(), "berth-contexts-"));
    roots.set(store, root);
  }
  return root;
}

/** A folder name for an account id: itself when it is plain, else its hash. */
function accountDir(accountId: string): string {
  return /^[A-Za-z0-9_-]{1,100}$/.test(accountId)
    ? accountId
    : `h-${createHash("sha256").update(accountId).digest("hex")}`;
}

interface Usage {
  count: number;
  bytes: number;
}

/** Uploads in progress in this process, per account: they count toward the budget too. */
const inflight = new Map<string, Usage>();

/** What an account's staged contexts take, expired ones removed on the way. */
function usageOf(root: string, accountId: string, ttlMs: number): Promise<Usage> {
  return usageOfDir(join(root, accountDir(accountId)), ttlMs);
}

async function usageOfDir(dir: string, ttlMs: number): Promise<Usage> {
  const usage: Usage = { count: 0, bytes: 0 };
  for (const region of await readdirOrEmpty(dir)) {
    // Uploads cut by a crash leave their temporary file: gone once it is as old as a context.
    const uploads = region === ".uploads";
    if (region.startsWith(".") && !uploads) continue;
    for (const name of await readdirOrEmpty(join(dir, region))) {
      const path = join(dir, region, name);
      const info = await stat(path).catch(() => null);
      if (!info) continue;
      if (Date.now() - info.mtimeMs > ttlMs) {
        await rm(path, { force: true });
        continue;
      }
      if (uploads) continue;
      usage.count++;
      usage.bytes += info.size;
    }
  }
  return usage;
}

const SWEEP_EVERY_MS = 10 * 60 * 1000;
const lastSweep = new Map<string, number>();

/**
 * Expired contexts of every account, removed at most every ten minutes per process (an account
 * that never uploads again does not keep its contexts on disk for ever).
 */
async function sweepExpired(root: string, ttlMs: number): Promise<void> {
  const last = lastSweep.get(root) ?? 0;
  if (Date.now() - last < Math.min(SWEEP_EVERY_MS, ttlMs)) return;
  lastSweep.set(root, Date.now());
  for (const account of await readdirOrEmpty(root)) {
    await usageOfDir(join(root, account), ttlMs);
  }
}

/**
 * Store an uploaded context (a tar, gzip-compressed or not) for its owner, refusing it past
 * `maxBytes` or past the account's budget of staged contexts.
 */
export async function stageBuildContext(
  owner: ContextOwner,
  source: BlobSource,
  opts: { maxBytes?: number } = {},
): Promise<StagedContext> {
  const limits = buildLimits();
  const limit = opts.maxBytes ?? limits.contextMaxBytes;
  const root = rootOf(owner.store);
  void sweepExpired(root, limits.contextTtlMs).catch(() => {
    // A sweep that fails is tried again at a later upload; the upload does not depend on it.
  });
  const key = accountDir(owner.accountId);
  const pending = inflight.get(key) ?? { count: 0, bytes: 0 };
  inflight.set(key, pending);
  pending.count++;
  let counted = 0;
  const tmpDir = join(root, key, ".uploads");
  const tmp = join(tmpDir, randomBytes(12).toString("hex"));
  try {
    const stored = await usageOf(root, owner.accountId, limits.contextTtlMs);
    if (stored.count + pending.count > limits.contextsPerAccount) {
      throw new ContextBudgetError(
        "count",
        `the account already has ${stored.count + pending.count - 1} staged build contexts, the most it may hold (${limits.contextsPerAccount}); each is removed an hour after its upload`,
      );
    }
    const take = (n: number) => {
      counted += n;
      pending.bytes += n;
      if (counted > limit) throw new ContextTooLargeError(limit);
      if (stored.bytes + pending.bytes > limits.contextBytesPerAccount) {
        throw new ContextBudgetError(
          "bytes",
          `this build context would take the account's staged build contexts past ${limits.contextBytesPerAccount} bytes; each is removed an hour after its upload`,
        );
      }
    };
    const input = source instanceof Uint8Array ? Readable.from([Buffer.from(source)]) : source;
    const limited = async function* () {
      for await (const chunk of input) {
        const bytes = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Uint8Array);
        take(bytes.length);
        yield bytes;
      }
    };
    await mkdir(tmpDir, { recursive: true });
    await pipeline(Readable.from(limited()), createWriteStream(tmp));
    const id = `ctx_${randomBytes(24).toString("hex")}`;
    const dir = join(root, key, owner.region);
    await mkdir(dir, { recursive: true });
    await rename(tmp, join(dir, id));
    return { context: id, size: counted };
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  } finally {
    pending.count--;
    pending.bytes -= counted;
    if (pending.count === 0) inflight.delete(key);
  }
}

/**
 * The staged context a build names, read into memory: only one the caller's account staged in
 * this region within the hour. Anything else is NOT_FOUND, with the same message whatever it
 * names.
 */
export async function loadStagedContext(
  ctx: Pick<RegistryContext, "store" | "region" | "principal">,
  context: string,
  budget?: BuildBudget,
): Promise<BuildContextFiles> {
  const missing = () => notFound(NOT_FOUND_MESSAGE);
  if (!CONTEXT_ID.test(context)) throw missing();
  const path = join(rootOf(ctx.store), accountDir(ctx.principal.account.id), ctx.region, context);
  const info = await stat(path).catch(() => null);
  if (!info?.isFile() || Date.now() - info.mtimeMs > buildLimits().contextTtlMs) throw missing();
  try {
    return await readContext(createReadStream(path), budget);
  } catch (error) {
    if (error instanceof ContextError) throw new RegistryError("BAD_REQUEST", error.message);
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw missing();
    throw error;
  }
}

async function readdirOrEmpty(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}
