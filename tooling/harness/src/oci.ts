/**
 * A minimal registry client over fetch for load and fault scripts: monolithic blob uploads,
 * an OCI image manifest, pulls that check every digest. Every request carries its own
 * x-request-id so the scripts can find its event afterwards.
 */
import { createHash, randomBytes } from "node:crypto";

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

export interface Image {
  config: Buffer;
  layers: Buffer[];
  manifest: Buffer;
  digest: string;
}

/** An image of random layers (bytes that never repeat, so every push stores new blobs). */
export function randomImage(layerSizes: number[]): Image {
  const layers = layerSizes.map((n) => randomBytes(n));
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: layers.map((l) => sha256(l)) },
      config: { Labels: { nonce: randomBytes(8).toString("hex") } },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: sha256(l), size: l.length })),
    }),
  );
  return { config, layers, manifest, digest: sha256(manifest) };
}

/** Bytes served that do not match their digest: the worst a registry can do. */
export class IntegrityError extends Error {
  override readonly name = "IntegrityError";
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what} answered ${status}: ${body.slice(0, 300)}`);
  }
}

export interface RequestOptions {
  auth: string;
  requestId: string;
  timeoutMs?: number;
  /**
   * Filled with the status of the request that is the audited action (the manifest PUT of
   * a push, the manifest GET of a pull) once it is answered; 0 while it is in flight.
   */
  audited?: { status?: number };
}

function headers(opts: RequestOptions, extra: Record<string, string> = {}) {
  return {
    authorization: opts.auth,
    "x-request-id": opts.requestId,
    "user-agent": "berth-fault/1.0",
    ...extra,
  };
}

/** Upload a blob in one request (POST ?digest=). */
export async function uploadBlob(
  base: string,
  repository: string,
  bytes: Buffer,
  opts: RequestOptions,
): Promise<void> {
  const res = await fetch(`${base}/v2/${repository}/blobs/uploads/?digest=${sha256(bytes)}`, {
    method: "POST",
    headers: headers(opts, {
      "content-type": "application/octet-stream",
      "content-length": String(bytes.length),
    }),
    body: bytes,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
  });
  const body = await res.text();
  if (res.status !== 201) throw new HttpError(res.status, body, `blob upload to ${repository}`);
}

/** Push an image: its blobs, then the manifest under `reference`; returns the manifest's digest. */
export async function pushImage(
  base: string,
  repository: string,
  reference: string,
  image: Image,
  opts: RequestOptions,
): Promise<string> {
  for (const [i, blob] of [image.config, ...image.layers].entries()) {
    await uploadBlob(base, repository, blob, {
      auth: opts.auth,
      requestId: `${opts.requestId}.b${i}`,
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    });
  }
  return putManifest(base, repository, reference, image.manifest, opts);
}

export async function putManifest(
  base: string,
  repository: string,
  reference: string,
  manifest: Buffer,
  opts: RequestOptions & { contentType?: string },
): Promise<string> {
  if (opts.audited) opts.audited.status = 0;
  const res = await fetch(`${base}/v2/${repository}/manifests/${reference}`, {
    method: "PUT",
    headers: headers(opts, { "content-type": opts.contentType ?? OCI_MANIFEST }),
    body: manifest,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
  });
  if (opts.audited) opts.audited.status = res.status;
  const body = await res.text();
  if (res.status !== 201) throw new HttpError(res.status, body, `manifest PUT ${repository}`);
  return res.headers.get("docker-content-digest") ?? "";
}

/** Pull an image by tag or digest and check every digest; returns the bytes read. */
export async function pullImage(
  base: string,
  repository: string,
  reference: string,
  opts: RequestOptions,
): Promise<number> {
  if (opts.audited) opts.audited.status = 0;
  const res = await fetch(`${base}/v2/${repository}/manifests/${reference}`, {
    headers: headers(opts, { accept: OCI_MANIFEST }),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
  });
  if (opts.audited) opts.audited.status = res.status;
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) {
    throw new HttpError(res.status, bytes.toString("utf8"), `manifest GET ${repository}`);
  }
  const digest = res.headers.get("docker-content-digest");
  if (digest !== sha256(bytes)) {
    throw new IntegrityError(`manifest of ${repository}:${reference} is corrupt`);
  }
  const manifest = JSON.parse(bytes.toString("utf8")) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  let total = bytes.length;
  for (const [i, d] of [
    manifest.config.digest,
    ...manifest.layers.map((l) => l.digest),
  ].entries()) {
    const blob = await fetch(`${base}/v2/${repository}/blobs/${d}`, {
      headers: headers({ auth: opts.auth, requestId: `${opts.requestId}.b${i}` }),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
    });
    const data = Buffer.from(await blob.arrayBuffer());
    if (blob.status !== 200) {
      throw new HttpError(blob.status, data.toString("utf8"), `blob GET ${repository}`);
    }
    if (sha256(data) !== d) throw new IntegrityError(`blob ${d} of ${repository} is corrupt`);
    total += data.length;
  }
  return total;
}
