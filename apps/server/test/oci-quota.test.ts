import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { MB, STORAGE_QUOTA_MESSAGE, TRAFFIC_QUOTA_MESSAGE } from "@berth/core";
import { readQuota } from "@berth/registry";
import { describe, expect, it } from "vitest";
import { forFile, rid, waitFor } from "./helpers";
import { expectError, OciClient } from "./oci-client";
import { layoutBlob, layoutClosure, layoutRef, run, startOciEnv, umociImage } from "./oci-helpers";

const env = await forFile(startOciEnv(["skopeo", "umoci"]));

describe("storage quota", () => {
  it("lets a lite account push until its usage reaches the quota, then refuses with DENIED", async () => {
    const carol = await env.tenant("carol", { storageMb: 1 });
    const creds = `iamapikey:${carol.apiKey}`;
    const layout = join(env.tmp, "quota");
    const pushed: string[] = [];
    let refused: { index: number; stderr: string } | undefined;
    for (let i = 0; i < 8 && !refused; i++) {
      // 300 KB of noise per image: the fourth push crosses 1 MB, the fifth is refused.
      await umociImage(layout, `i${i}`, { layers: [{ noise: randomBytes(300_000) }] });
      const r = await run(
        "skopeo",
        [
          "copy",
          "--dest-tls-verify=false",
          "--dest-creds",
          creds,
          `oci:${layout}:i${i}`,
          `docker://${env.host}/carolns/app:i${i}`,
        ],
        { env: env.clientEnv },
      );
      if (r.code === 0) pushed.push(`i${i}`);
      else refused = { index: i, stderr: r.stderr };
    }
    expect(refused, "no push was refused").toBeDefined();
    expect(refused!.index).toBe(4);
    expect(refused!.stderr).toContain("denied");
    expect(refused!.stderr).toContain(STORAGE_QUOTA_MESSAGE);

    const ctx = env.ctx(carol);
    const quota = await readQuota(env.t.db, ctx);
    expect(quota.limits.storageBytes).toBe(MB);
    expect(quota.usage.storageBytes).toBeGreaterThanOrEqual(MB);
    // Usage is what the registry holds: the unique blobs and manifests of the pushed images.
    const digests = new Set(
      pushed.flatMap((tag) => layoutClosure(layout, layoutRef(layout, tag).digest)),
    );
    const bytes = [...digests].reduce((sum, d) => sum + layoutBlob(layout, d).length, 0);
    expect(quota.usage.storageBytes).toBe(bytes);

    const failures = (await env.allEvents("container-registry.image.push")).filter(
      (e) => e.outcome === "failure",
    );
    expect(failures).toHaveLength(1);
    expect(failures[0]!.target.name).toBe("carolns/app");
    expect(failures[0]!.reason.reasonCode).toBe(403);
    expect(failures[0]!.reason.reasonForFailure).toBe(STORAGE_QUOTA_MESSAGE);
    expect(failures[0]!.severity).toBe("critical");
    expect(failures[0]!.target.id).toContain(`a/${carol.account.id}::`);

    // The manifest put is checked too; deleting an image makes room again.
    const client = OciClient.basic(env.url(), "iamapikey", carol.apiKey);
    const put = await client.putManifest(
      "carolns/app",
      "again",
      layoutBlob(layout, layoutRef(layout, "i0").digest).toString(),
      "application/vnd.oci.image.manifest.v1+json",
    );
    expect(await expectError(put, 403, "DENIED")).toBe(STORAGE_QUOTA_MESSAGE);
    for (const tag of ["i0", "i1"]) {
      const del = await client.request(
        "DELETE",
        `/v2/carolns/app/manifests/${layoutRef(layout, tag).digest}`,
      );
      expect(del.status).toBe(202);
    }
    const retry = await run(
      "skopeo",
      [
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        `oci:${layout}:i${refused!.index}`,
        `docker://${env.host}/carolns/app:retry`,
      ],
      { env: env.clientEnv },
    );
    expect(retry.code, retry.stderr).toBe(0);
  });
});

describe("pull-traffic quota", () => {
  it("counts manifest and blob bytes served, and refuses pulls once the month's traffic reaches the quota", async () => {
    const dave = await env.tenant("dave", { trafficMb: 1 });
    const client = OciClient.basic(env.url(), "iamapikey", dave.apiKey);
    const layer = randomBytes(400_000);
    const image = await client.pushImage("davens/app", "v1", { layers: [layer] });
    const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", ref: "v1" }));
    const traffic = async () => (await readQuota(env.t.db, env.ctx(dave))).usage.pullTrafficBytes;
    let served = 0;
    let refusedAt: number | undefined;
    for (let pull = 0; pull < 6 && refusedAt === undefined; pull++) {
      const id = rid("pull");
      const m = await client.withRequestId(id).request("GET", "/v2/davens/app/manifests/v1");
      if (m.status === 403) {
        expect(await expectError(m, 403, "DENIED")).toBe(TRAFFIC_QUOTA_MESSAGE);
        const [event] = await env.events(id);
        expect(event?.event.outcome).toBe("failure");
        expect(event?.event.action).toBe("container-registry.image.pull");
        expect(event?.event.reason.reasonForFailure).toBe(TRAFFIC_QUOTA_MESSAGE);
        refusedAt = pull;
        break;
      }
      expect(m.status).toBe(200);
      served += (await m.arrayBuffer()).byteLength;
      for (const digest of [image.config, ...image.layers]) {
        const b = await client.request("GET", `/v2/davens/app/blobs/${digest}`);
        served += (await b.arrayBuffer()).byteLength;
      }
      // Blob bytes are counted when each response is over.
      await waitFor("traffic to be counted", async () => (await traffic()) === served);
    }
    // 400 KB a pull: the third pull crosses 1 MB, the fourth is refused.
    expect(refusedAt).toBe(3);
    expect(served).toBe(3 * (image.bytes.length + config.length + layer.length));
    expect(await traffic()).toBe(served);
    // HEAD requests are free and allowed; a range counts only its bytes.
    expect((await client.request("HEAD", "/v2/davens/app/manifests/v1")).status).toBe(200);
    const range = await client.request("GET", `/v2/davens/app/blobs/${image.layers[0]}`, {
      headers: { range: "bytes=0-99" },
    });
    expect((await range.arrayBuffer()).byteLength).toBe(100);
    await waitFor("the range to be counted", async () => (await traffic()) === served + 100);
  });
});

describe("pull-traffic quota against a client that does not wait", () => {
  it("refuses manifest GETs sent back to back within a few of the limit", async () => {
    // A manifest's bytes are counted while its answer goes out: a client sending its next GET
    // at once may pass the check before the last count lands, by a few pulls.
    const gail = await env.tenant("gail", { trafficMb: 1 });
    const client = OciClient.basic(env.url(), "iamapikey", gail.apiKey);
    const image = await client.pushImage("gailns/app", "v1", {
      extra: { annotations: { pad: "x".repeat(100_000) } },
    });
    const crossing = Math.ceil(MB / image.bytes.length);
    let answered = 0;
    let refused = false;
    for (let pull = 0; pull < crossing + 20 && !refused; pull++) {
      const m = await client.request("GET", "/v2/gailns/app/manifests/v1");
      if (m.status === 403) {
        expect(await expectError(m, 403, "DENIED")).toBe(TRAFFIC_QUOTA_MESSAGE);
        refused = true;
      } else {
        expect(m.status, `pull ${pull + 1}`).toBe(200);
        await m.arrayBuffer();
        answered++;
      }
    }
    expect(refused, `refused after ${answered} pulls of ${image.bytes.length} bytes`).toBe(true);
    expect(answered).toBeGreaterThanOrEqual(crossing);
    expect(answered, `pulls answered with a limit crossed at pull ${crossing}`).toBeLessThanOrEqual(
      crossing + 5,
    );
    const traffic = async () => (await readQuota(env.t.db, env.ctx(gail))).usage.pullTrafficBytes;
    await waitFor("every answered pull to be counted", async () => {
      return (await traffic()) === answered * image.bytes.length;
    });
  });
});

describe("pull traffic counted together", () => {
  it("counts every byte of many concurrent pulls of two tenants, each in its own account", async () => {
    // The counts of the fetches of a moment go in one statement (traffic-count.ts): none may
    // be lost, and none may land in the other tenant's row.
    const tenants = await Promise.all(["erin", "fred"].map((n) => env.tenant(n)));
    const pulls = await Promise.all(
      tenants.map(async (who, i) => {
        const client = OciClient.basic(env.url(), "iamapikey", who.apiKey);
        const repository = `${["erin", "fred"][i]}ns/app`;
        const image = await client.pushImage(repository, "v1", {
          layers: [randomBytes(10_000 + i * 5_000)],
        });
        return { who, client, repository, image };
      }),
    );
    const served = await Promise.all(
      pulls.map(async ({ client, repository, image }) => {
        const sizes = await Promise.all(
          Array.from({ length: 20 }, async (_, n) => {
            const path =
              n % 4 === 0
                ? `/v2/${repository}/manifests/v1`
                : `/v2/${repository}/blobs/${image.layers[0]}`;
            const res = await client.request("GET", path);
            expect(res.status, `GET ${path}`).toBe(200);
            return (await res.arrayBuffer()).byteLength;
          }),
        );
        return sizes.reduce((a, b) => a + b, 0);
      }),
    );
    for (const [i, { who }] of pulls.entries()) {
      const traffic = async () => (await readQuota(env.t.db, env.ctx(who))).usage.pullTrafficBytes;
      await waitFor(
        `${["erin", "fred"][i]}'s traffic to be counted`,
        async () => (await traffic()) >= served[i]!,
      );
      expect(await traffic(), `${["erin", "fred"][i]}'s traffic`).toBe(served[i]);
    }
  });
});
