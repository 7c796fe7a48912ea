import { isAbsolute, join } from "node:path";
import type { BlobStore } from "./blob-store";
import { FsBlobStore } from "./fs-blob-store";
import { S3BlobStore } from "./s3-blob-store";
import { s3ClientFromEnv } from "./s3-client";

/** Where blobs are kept, as `BERTH_STORAGE` says it. */
export type StorageSpec =
  | { kind: "fs"; root: string }
  | { kind: "s3"; bucket: string; prefix: string };

export class StorageSpecError extends Error {
  override readonly name = "StorageSpecError";
}

/**
 * `BERTH_STORAGE`: unset, the data directory's `blobs/`; an absolute path (or `file://…`), a
 * folder of its own; `s3://bucket/prefix`, a bucket (the operator's, never created here)
 * with an optional key prefix.
 */
export function parseStorageSpec(spec: string | undefined, dataDir: string): StorageSpec {
  const text = spec?.trim();
  if (!text) return { kind: "fs", root: join(dataDir, "blobs") };
  if (text.startsWith("s3://")) {
    const [bucket = "", ...rest] = text.slice("s3://".length).split("/");
    // S3's bucket naming rules (3-63 of lowercase letters, digits, dots and hyphens).
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new StorageSpecError(
        `BERTH_STORAGE: "${bucket}" is not a bucket name (expected s3://bucket/optional/prefix)`,
      );
    }
    const prefix = rest.filter((part) => part !== "").join("/");
    if (rest.some((part) => part === "." || part === "..")) {
      throw new StorageSpecError("BERTH_STORAGE: the prefix may not hold . or .. segments");
    }
    return { kind: "s3", bucket, prefix };
  }
  const path = text.startsWith("file://") ? text.slice("file://".length) : text;
  if (!isAbsolute(path)) {
    throw new StorageSpecError(
      `BERTH_STORAGE: expected s3://bucket/prefix or an absolute folder, got "${text}"`,
    );
  }
  return { kind: "fs", root: path };
}

/**
 * The one place a blob store is made (server, stack, gc, benchmarks): from `BERTH_STORAGE`
 * and, for S3, the standard AWS variables of `env`. The store is checked before it is
 * returned, so a missing bucket or bad credentials stop the process at start with a clear
 * error.
 */
export async function openBlobStore(options: {
  spec: string | undefined;
  dataDir: string;
  env?: Record<string, string | undefined>;
  /** Whether blob GETs may be redirected to the storage (where the driver can); default yes. */
  redirects?: boolean;
}): Promise<BlobStore> {
  const parsed = parseStorageSpec(options.spec, options.dataDir);
  const store: BlobStore =
    parsed.kind === "fs"
      ? new FsBlobStore(parsed.root)
      : new S3BlobStore(s3ClientFromEnv(options.env ?? process.env), parsed.bucket, parsed.prefix, {
          redirects: options.redirects !== false,
        });
  await store.check?.();
  return store;
}
