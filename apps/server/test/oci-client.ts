import { createHash } from "node:crypto";
import { expect } from "vitest";

/**
 * A small distribution-API client on fetch, for the protocol tests: every request is
 * explicit, so the tests see the exact status, headers and error bodies.
 */
export class OciClient {
  constructor(
    readonly base: string,
    readonly authorization?: string,
    readonly requestId?: string,
  ) {}

  /** Basic credentials (`iamapikey` + key, `token` + secret, `iambearer` + JWT). */
  static basic(base: string, user: string, password: string): OciClient {
    return new OciClient(base, `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`);
  }

  /** A client holding a bearer token from the token endpoint, for `scopes`. */
  static async bearer(
    base: string,
    user: string,
    password: string,
    scopes: string[],
  ): Promise<OciClient> {
    const query = new URLSearchParams([
      ["service", "berth-registry-us-south"],
      ...scopes.map((s) => ["scope", s] as [string, string]),
    ]);
    const r = await fetch(`${base}/token?${query}`, {
      headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` },
    });
    expect(r.status, await r.clone().text()).toBe(200);
    const body = (await r.json()) as { token: string };
    return new OciClient(base, `Bearer ${body.token}`);
  }

  /** The same credentials, with a request id (to find the request's events). */
  withRequestId(requestId: string): OciClient {
    return new OciClient(this.base, this.authorization, requestId);
  }

  async request(
    method: string,
    path: string,
    opts: { headers?: Record<string, string>; body?: Uint8Array | string } = {},
  ): Promise<Response> {
    return fetch(`${this.base}${path}`, {
      method,
      headers: {
        "user-agent": "berth-test/1.0",
        ...(this.authorization ? { authorization: this.authorization } : {}),
        ...(this.requestId ? { "x-request-id": this.requestId } : {}),
        ...opts.headers,
      },
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      redirect: "manual",
    });
  }

  /** POST + PUT upload of a whole blob; returns its digest. */
  async pushBlob(repo: string, bytes: Uint8Array): Promise<string> {
    const digest = sha256(bytes);
    const start = await this.request("POST", `/v2/${repo}/blobs/uploads/`);
    expect(start.status, await start.clone().text()).toBe(202);
    const location = start.headers.get("location")!;
    const put = await this.request("PUT", `${location}?digest=${digest}`, {
      body: bytes,
      headers: { "content-type": "application/octet-stream" },
    });
    expect(put.status, await put.clone().text()).toBe(201);
    return digest;
  }

  /** PUT a manifest object; returns the response. */
  putManifest(repo: string, ref: string, manifest: unknown, mediaType?: string): Promise<Response> {
    const body = typeof manifest === "string" ? manifest : JSON.stringify(manifest);
    return this.request("PUT", `/v2/${repo}/manifests/${ref}`, {
      body,
      headers: mediaType ? { "content-type": mediaType } : {},
    });
  }

  /**
   * An artifact about `subject` (an empty config and one layer holding `content`, both of
   * `artifactType`), PUT by its digest: the response, the manifest's body and its digest.
   */
  async pushReferrer(
    repo: string,
    subject: { digest: string; bytes: Uint8Array },
    artifactType: string,
    content: string,
    extra: Record<string, unknown> = {},
  ): Promise<{ response: Response; body: string; digest: string }> {
    const empty = await this.pushBlob(repo, Buffer.from("{}"));
    const layer = await this.pushBlob(repo, Buffer.from(content));
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      artifactType,
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: empty, size: 2 },
      layers: [{ mediaType: artifactType, digest: layer, size: Buffer.byteLength(content) }],
      subject: { mediaType: MEDIA.ociManifest, digest: subject.digest, size: subject.bytes.length },
      ...extra,
    });
    const digest = sha256(body);
    const response = await this.putManifest(repo, digest, body, MEDIA.ociManifest);
    return { response, body, digest };
  }

  /** Push config and layers, then the manifest; returns the manifest's digest and bytes. */
  async pushImage(
    repo: string,
    ref: string,
    opts: { layers?: Uint8Array[]; config?: Uint8Array; extra?: Record<string, unknown> } = {},
  ): Promise<{ digest: string; bytes: Buffer; layers: string[]; config: string }> {
    const config =
      opts.config ?? Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", ref }));
    const layers = opts.layers ?? [Buffer.from(`layer of ${repo}:${ref}`)];
    const configDigest = await this.pushBlob(repo, config);
    const layerDigests: string[] = [];
    for (const l of layers) layerDigests.push(await this.pushBlob(repo, l));
    const manifest = imageManifest(
      { digest: configDigest, size: config.length },
      layers.map((l, i) => ({ digest: layerDigests[i]!, size: l.length })),
      opts.extra,
    );
    const bytes = Buffer.from(JSON.stringify(manifest));
    const r = await this.putManifest(repo, ref, bytes.toString(), MEDIA.ociManifest);
    expect(r.status, await r.clone().text()).toBe(201);
    return { digest: sha256(bytes), bytes, layers: layerDigests, config: configDigest };
  }
}

export const MEDIA = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar+gzip",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

export function imageManifest(
  config: { digest: string; size: number },
  layers: { digest: string; size: number }[],
  extra: Record<string, unknown> = {},
) {
  return {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, ...config },
    layers: layers.map((l) => ({ mediaType: MEDIA.ociLayer, ...l })),
    ...extra,
  };
}

/** The first OCI error of a response body. */
export async function ociError(r: Response): Promise<{ code: string; message: string }> {
  const body = (await r.json()) as { errors: { code: string; message: string }[] };
  expect(Array.isArray(body.errors), JSON.stringify(body)).toBe(true);
  return body.errors[0]!;
}

/** Assert status and OCI error code of a response. */
export async function expectError(r: Response, status: number, code: string): Promise<string> {
  const text = await r.text();
  expect(r.status, text).toBe(status);
  // HEAD responses carry the status only.
  if (text === "") return "";
  const body = JSON.parse(text) as { errors: { code: string; message: string }[] };
  expect(body.errors[0]?.code, text).toBe(code);
  return body.errors[0]!.message;
}

/** A response's JSON body, typed as the test expects it. */
export async function json<T>(r: Response): Promise<T> {
  return (await r.json()) as T;
}
