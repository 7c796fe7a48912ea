import { Readable } from "node:stream";
import { DEFAULT_MAX_BLOB_BYTES, quotaAllows, STORAGE_QUOTA_MESSAGE } from "@berth/core";
import { accountId, type RegistryContext } from "../../context";
import { RegistryError } from "../../errors";
import { OciFailure } from "../errors";
import { limitsOf, pushStorageUsage } from "../quota";

/** What bounds the bytes of one upload. */
export interface UploadLimits {
  /** Largest blob (default DEFAULT_MAX_BLOB_BYTES). */
  maxBlobBytes?: number;
  /** The chunk's Content-Length, when the client sent one: too large is refused unread. */
  declaredLength?: number;
}

/**
 * A chunk on its way to the upload's file, counted as it streams: cut (with the refusal as
 * its error, so the upload store rolls the chunk back) once the blob would pass the size
 * cap, or once storage has reached the quota. `rollback` uncounts the chunk if it was not
 * kept.
 */
export interface GuardedChunk {
  stream: Readable;
  rollback(): void;
}

const refusals = new WeakSet<Error>();

/** Whether an error is a chunk refused for its size or the storage quota (audited). */
export function isSpaceRefusal(error: unknown): boolean {
  return error instanceof Error && refusals.has(error);
}

function refusal<E extends Error>(error: E): E {
  refusals.add(error);
  return error;
}

function tooLarge(max: number): OciFailure {
  return refusal(
    new OciFailure(
      "SIZE_INVALID",
      `a blob may be at most ${max} bytes; this upload is larger`,
      413,
    ),
  );
}

function overQuota(): RegistryError {
  return refusal(new RegistryError("QUOTA_EXCEEDED", STORAGE_QUOTA_MESSAGE));
}

/**
 * Bytes appended to each account's uploads by this process, so that a chunk sees the
 * account's other uploads grow while it streams (the usage it started from is on disk).
 */
const appendedByStore = new WeakMap<object, Map<string, { bytes: number }>>();

function appendedOf(ctx: RegistryContext): { bytes: number } {
  let byAccount = appendedByStore.get(ctx.store);
  if (!byAccount) {
    byAccount = new Map();
    appendedByStore.set(ctx.store, byAccount);
  }
  const key = `${accountId(ctx)}/${ctx.region}`;
  let counter = byAccount.get(key);
  if (!counter) {
    counter = { bytes: 0 };
    byAccount.set(key, counter);
  }
  return counter;
}

/** The account's storage cap (null: none) and its usage so far (null when uncapped). */
export interface StorageSpace {
  storageBytes: number | null;
  base: number | null;
}

/**
 * What a chunk is checked against. Reads only, so a request may start them before it holds
 * the upload's lease, beside the statement that takes it: a chunk then waits for one round
 * trip less. The usage is asked only once a cap is known to exist.
 */
export function storageSpace(ctx: RegistryContext): Promise<StorageSpace> {
  const space = limitsOf(ctx.db, ctx).then(async ({ storageBytes }) => ({
    storageBytes,
    base: storageBytes === null ? null : await pushStorageUsage(ctx.db, ctx),
  }));
  // A request refused before its chunk is checked never awaits it.
  space.catch(() => {});
  return space;
}

/**
 * Check a chunk before it is written to an upload holding `offset` bytes, and guard it
 * while it streams. Storage follows DESIGN §4 ("usage so far"): a chunk starts only while
 * the account's storage, open uploads included, is under the quota; while it streams it is
 * cut as soon as the account's other uploads reach the quota. Its own bytes do not cut it,
 * so the push that crosses the limit completes, as the quota does elsewhere; that overshoot
 * is at most one blob (`maxBlobBytes`). Concurrent chunks in other server processes are
 * seen at each chunk's start.
 */
export async function guardChunk(
  ctx: RegistryContext,
  offset: number,
  source: Readable | Uint8Array,
  limits: UploadLimits = {},
  /** `storageSpace(ctx)` when the caller started it already. */
  space?: Promise<StorageSpace>,
): Promise<GuardedChunk> {
  const max = limits.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES;
  if (offset + (limits.declaredLength ?? 0) > max) throw tooLarge(max);
  const { storageBytes, base } = await (space ?? storageSpace(ctx));
  if (storageBytes !== null && base !== null && !quotaAllows(base, storageBytes)) {
    throw overQuota();
  }
  const appended = appendedOf(ctx);
  const mark = appended.bytes;
  let own = 0;
  const input = source instanceof Uint8Array ? Readable.from([source]) : source;
  // Nothing is read before the upload store reads the chunk, so that it is listening for
  // the refusal when it comes; an end before then waits for it too.
  let started = false;
  let early: Error | undefined;
  const fail = (error: Error) => {
    if (!started) early ??= error;
    else if (!out.destroyed) out.destroy(error);
  };
  const out = new Readable({
    read() {
      if (!started) {
        started = true;
        if (early) return void out.destroy(early);
      }
      input.resume();
    },
  });
  let ended = false;
  const onData = (chunk: Buffer | string) => {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    own += bytes.length;
    appended.bytes += bytes.length;
    const refused =
      offset + own > max
        ? tooLarge(max)
        : storageBytes !== null &&
            base !== null &&
            !quotaAllows(base + (appended.bytes - mark - own), storageBytes)
          ? overQuota()
          : undefined;
    if (refused) {
      input.off("data", onData);
      // The rest of the body stays unread: the answer closes the connection.
      input.pause();
      return fail(refused);
    }
    if (!out.push(bytes)) input.pause();
  };
  input.pause();
  input.on("data", onData);
  input.once("end", () => {
    ended = true;
    out.push(null);
  });
  input.once("error", fail);
  input.once("close", () => {
    if (!ended) fail(new Error("the upload stream ended early"));
  });
  let rolledBack = false;
  return {
    stream: out,
    rollback() {
      if (rolledBack) return;
      rolledBack = true;
      appended.bytes -= own;
    },
  };
}
