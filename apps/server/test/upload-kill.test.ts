import { randomBytes } from "node:crypto";
import { uploadSessions } from "@berth/db";
import { until } from "@berth/harness";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { forFile } from "./helpers";
import { sha256 } from "./oci-client";
import { heldPatch, startProcessBed, startServerProcess } from "./upload-processes";

// A server process dies (SIGKILL of its process group: no shutdown, no cleanup) in the middle
// of a chunked push to S3 (moto_server); the client finishes the push on another process.
// The upload's state is in Postgres, so B knows the parts A sent; A's hold on the upload runs
// out by itself (its lease); B verifies the digest by reading the bytes back, as it did not
// see them all; a wrong digest is refused and nothing becomes visible.

const MiB = 1024 * 1024;
const bed = await forFile(startProcessBed());
const bucket = await bed.moto.bucket();
const { client, patch } = bed;
// Bounded: three minutes (the lease of the dead process is 30 s), a half second apart.
const slowly = [180_000, 500] as const;

async function sessionRow(id: string) {
  const rows = await bed.t.db.select().from(uploadSessions).where(eq(uploadSessions.id, id));
  return rows[0];
}

const blobKeys = () => bed.moto.keys(bucket, "berth/blobs/");

describe("a server process killed in the middle of a chunked push to S3", () => {
  it("lets another process finish the upload, byte for byte, and refuses a wrong digest", async () => {
    const env = bed.s3Env(bucket);
    const [A, B] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
    const repo = "alicens/killed";
    const layer = randomBytes(14 * MiB + 4321);
    const cuts = [0, 6 * MiB, 9 * MiB, 13 * MiB, layer.length];
    const chunk = (i: number) => layer.subarray(cuts[i], cuts[i + 1]);

    const start = await client(A).request("POST", `/v2/${repo}/blobs/uploads/`);
    expect(start.status, await start.clone().text()).toBe(202);
    const location = start.headers.get("location")!;
    const id = location.split("/").pop()!;
    // A second upload, to be closed with a wrong digest after A is gone.
    const other = await client(A).request("POST", `/v2/${repo}/blobs/uploads/`);
    const otherLocation = other.headers.get("location")!;
    const otherBytes = randomBytes(6 * MiB + 3);
    expect((await patch(A, otherLocation, otherBytes, 0)).status).toBe(202);

    for (const i of [0, 1]) {
      const r = await patch(A, location, chunk(i), cuts[i]!);
      expect(r.status, await r.clone().text()).toBe(202);
    }
    // The third chunk is half sent to A when A is killed.
    const third = chunk(2);
    const half = heldPatch(bed, A, location, third, cuts[2]!);
    const held = await until(
      "A to take the upload for the third chunk",
      async () => {
        const row = await sessionRow(id);
        return row?.writer ? row : undefined;
      },
      ...slowly,
    );
    await A.kill();
    half.abort();
    expect(held.offset, "what the database says A received before it died").toBe(cuts[2]);

    // B knows where the upload stands: what A's completed chunks sent, nothing of the third.
    const status = await client(B).request("GET", location);
    expect(status.status).toBe(204);
    expect(status.headers.get("range")).toBe(`0-${cuts[2]! - 1}`);
    // A's lease runs out by itself; while it runs, B refuses to write (another request holds
    // it). Checked against the database's clock, with a margin, not against the test's.
    await until(
      "B to take the third chunk",
      async () => {
        const [lease] = await bed.t.db.execute<{ held: boolean }>(
          sql`select writer_until > now() + interval '2 seconds' as held
              from upload_sessions where id = ${id}`,
        );
        // Refused before its body is read, the connection may close under the client's feet.
        const r = await patch(B, location, third, cuts[2]!).catch(() => null);
        if (r?.status === 202) {
          expect(lease?.held, "B wrote while A's lease still ran").not.toBe(true);
          return true;
        }
        if (r) {
          expect(r.status, await r.clone().text()).toBe(400);
          expect(await r.text()).toMatch(/another request is writing/);
        }
        return undefined;
      },
      ...slowly,
    );
    const digest = sha256(layer);
    const put = await client(B).request("PUT", `${location}?digest=${digest}`, {
      body: chunk(3),
      headers: {
        "content-type": "application/octet-stream",
        "content-range": `${cuts[3]}-${layer.length - 1}`,
      },
    });
    expect(put.status, await put.clone().text()).toBe(201);
    expect(await sessionRow(id)).toBeUndefined();
    const got = await client(B).request("GET", `/v2/${repo}/blobs/${digest}`);
    expect(got.status).toBe(307);
    const pulled = Buffer.from(await (await fetch(got.headers.get("location")!)).arrayBuffer());
    expect(pulled.equals(layer), "the pulled blob is the pushed one").toBe(true);
    expect(sha256(pulled)).toBe(digest);

    // The other upload, closed on B with a digest its bytes do not have: refused, dropped,
    // and no blob appears, under either digest.
    const wrong = sha256(Buffer.from("something else"));
    const bad = await client(B).request("PUT", `${otherLocation}?digest=${wrong}`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe(
      "DIGEST_INVALID",
    );
    for (const d of [wrong, sha256(otherBytes)]) {
      expect((await client(B).request("HEAD", `/v2/${repo}/blobs/${d}`)).status).toBe(404);
    }
    expect((await client(B).request("GET", otherLocation)).status).toBe(404);
    const keys = await blobKeys();
    expect(keys).toEqual([`berth/blobs/sha256/${digest.slice("sha256:".length)}`]);
  }, 600_000);
});
