import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { RegionName } from "@berth/core";
import type { Db } from "@berth/db";
import type { Principal, RegistryContext } from "./context";
import { MEDIA_TYPES } from "./images/manifest";
import { type PutManifestResult, storeImage } from "./images/records";
import { tar } from "./images/tar";
import type { BlobInfo, BlobStore } from "./storage/blob-store";

/**
 * Test helpers: real OCI images (a JSON config, gzip-compressed tar layers, an OCI image
 * manifest) written through the blob store and the same records the OCI API writes.
 */

export type LayerFiles = Record<string, string>;

export interface TestImageOptions {
  accountId: string;
  region: RegionName;
  /** "ns/repo"; the namespace must exist and belong to the account. */
  repository: string;
  tag?: string;
  /**
   * Files of each layer. The same files give byte-identical layers, so two images can
   * share a layer. Default: one layer with a file unique to repository and tag.
   */
  layers?: LayerFiles[];
  cmd?: string[];
  labels?: Record<string, string>;
  architecture?: string;
  created?: string;
}

export interface TestImage extends PutManifestResult {
  reference: string;
  manifestBytes: Buffer;
  config: Record<string, unknown>;
  configBlob: BlobInfo;
  layerBlobs: BlobInfo[];
  /** Manifest plus config plus compressed layers. */
  totalSize: number;
}

/** A gzip-compressed tar layer and the digest of its uncompressed tar (the diff id). */
export function buildLayer(files: LayerFiles): { gz: Buffer; diffId: string } {
  const raw = tar(
    Object.entries(files)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([path, content]) => ({ path, content })),
  );
  return { gz: gzipSync(raw, { level: 9 }), diffId: sha256(raw) };
}

export async function createTestImage(
  db: Db,
  store: BlobStore,
  opts: TestImageOptions,
): Promise<TestImage> {
  const tag = opts.tag ?? "latest";
  const layerFiles = opts.layers ?? [
    { [`app/${opts.repository.replaceAll("/", "_")}-${tag}.txt`]: `${opts.repository}:${tag}\n` },
  ];
  const layers = layerFiles.map(buildLayer);
  const layerBlobs: BlobInfo[] = [];
  for (const layer of layers) layerBlobs.push(await store.put(layer.gz));
  const config = {
    created: opts.created ?? "2019-06-01T12:00:00Z",
    architecture: opts.architecture ?? "amd64",
    os: "linux",
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Cmd: opts.cmd ?? ["/bin/sh"],
      WorkingDir: "/app",
      Labels: opts.labels ?? {},
    },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({
      created: opts.created ?? "2019-06-01T12:00:00Z",
      created_by: `COPY layer${i} /`,
    })),
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configBlob = await store.put(configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, digest: configBlob.digest, size: configBlob.size },
    layers: layerBlobs.map((b) => ({
      mediaType: MEDIA_TYPES.ociLayerGzip,
      digest: b.digest,
      size: b.size,
    })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const stored = await storeImage(db, store, {
    accountId: opts.accountId,
    region: opts.region,
    repository: opts.repository,
    tag,
    manifest: manifestBytes,
    mediaType: MEDIA_TYPES.ociManifest,
    blobs: [
      { ...configBlob, mediaType: MEDIA_TYPES.ociConfig },
      ...layerBlobs.map((b) => ({ ...b, mediaType: MEDIA_TYPES.ociLayerGzip })),
    ],
  });
  return {
    ...stored,
    reference: `${opts.repository}:${tag}`,
    manifestBytes,
    config,
    configBlob,
    layerBlobs,
    totalSize: manifestBytes.length + configBlob.size + layerBlobs.reduce((s, b) => s + b.size, 0),
  };
}

/** A context for calling use cases directly (no HTTP). */
export function testContext(opts: {
  db: Db;
  store: BlobStore;
  principal: Principal;
  region?: RegionName;
  requestId?: string;
  clientIp?: string;
  userAgent?: string;
  now?: () => Date;
}): RegistryContext {
  return {
    db: opts.db,
    store: opts.store,
    principal: opts.principal,
    region: opts.region ?? "us-south",
    requestId: opts.requestId ?? `test-${Math.random().toString(36).slice(2)}`,
    clientIp: opts.clientIp ?? "127.0.0.1",
    userAgent: opts.userAgent ?? "berth-test",
    ...(opts.now ? { now: opts.now } : {}),
  };
}

/** The principal of an account's first user acting with an API key. */
export function apiKeyPrincipal(
  account: { id: string; name: string },
  user: { id: string; name: string },
): Principal {
  return { account, user: { ...user, kind: "user" }, credentialType: "apikey" };
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

export {
  type ContextSpec,
  contextTar,
  gzipBomb,
  type LayerFile,
  readLayer,
} from "./build/testing";
export { type Moto, startMoto } from "./moto";
