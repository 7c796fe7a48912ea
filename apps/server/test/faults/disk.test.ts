import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { type DiskFaultsReport, diskFaults, runDiskFaults, setupAccounts } from "@berth/harness";
import {
  type BlobSource,
  FsBlobStore,
  FsUploadStore,
  type UploadingBlobStore,
  type UploadStore,
} from "@berth/registry";
import { describe, expect, it } from "vitest";
import { serverOn, startTestServer } from "../helpers";

// Disk errors of the blob store. Where this machine can mount (root), the store is a real
// 5 MB tmpfs under a server process, remounted read-only for the second part (`pnpm
// fault:disk` prints the same). Elsewhere an in-process server gets a store whose upload
// area fails writes past a cap with ENOSPC and, when read-only, with EROFS, as the
// filesystem would.

const errno = (code: string) =>
  Object.assign(new Error(`${code}: simulated by the test store`), { code });

/** An FsBlobStore whose uploads hit ENOSPC past `cap` bytes, and EROFS while read-only. */
class SimulatedDisk extends FsBlobStore implements UploadingBlobStore {
  readOnly = false;
  private written = 0;
  private readonly area: FsUploadStore;
  constructor(
    root: string,
    private readonly cap: number,
  ) {
    super(root);
    this.area = new FsUploadStore(join(root, "uploads"), this);
  }
  override uploads(): UploadStore {
    const disk = this;
    const area = this.area;
    const writable = () => {
      if (disk.readOnly) throw errno("EROFS");
    };
    return {
      size: (id) => area.size(id),
      list: () => area.list(),
      seal: (id, digest, state, size) => area.seal(id, digest, state, size),
      abort: (id) => area.abort(id),
      async create(id) {
        writable();
        return area.create(id);
      },
      async publish(id, digest) {
        writable();
        return area.publish(id, digest);
      },
      async append(id, source: BlobSource, offset) {
        writable();
        let added = 0;
        const capped = new Transform({
          transform(chunk: Buffer, _enc, done) {
            added += chunk.length;
            if (disk.written + added > disk.cap) done(errno("ENOSPC"));
            else done(null, chunk);
          },
        });
        const input = source instanceof Readable ? source : Readable.from([source as Uint8Array]);
        // What does not fit is still read (and dropped), as the filesystem store does, so
        // the client gets the answer instead of a stalled request.
        capped.once("error", () => {
          input.unpipe(capped);
          input.resume();
        });
        input.pipe(capped);
        const size = await area.append(id, capped, offset);
        disk.written += added;
        return size;
      },
    };
  }
}

async function simulated(): Promise<DiskFaultsReport> {
  const env = await startTestServer();
  try {
    const store = new SimulatedDisk(mkdtempSync(join(tmpdir(), "berth-disk-")), 4.5 * 1024 * 1024);
    // The test server's own store is replaced: a second server on the same database.
    const server = await serverOn(env.t.db, { store });
    try {
      const base = server.urls["us-south"]!;
      const setup = await setupAccounts(env.t.url, base, "simdisk", 1);
      try {
        return await runDiskFaults(
          {
            mode: "simulated",
            capacityMb: 4.5,
            base,
            sql: setup.sql,
            actor: setup.actors[0]!,
            blobsDir: store.root,
            readOnly(on) {
              store.readOnly = on;
            },
          },
          "simdisk",
        );
      } finally {
        await setup.close();
      }
    } finally {
      await server.close();
    }
  } finally {
    await env.close();
  }
}

function expectClean(report: DiskFaultsReport): void {
  expect(report.pushedBeforeFull).toBeGreaterThan(0);
  const [whole, chunk, status] = report.full;
  for (const a of [whole!, chunk!]) {
    expect(a.status, a.what).toBe(507);
    expect(JSON.parse(a.body).errors[0].message).toMatch(
      /out of storage space: nothing was stored/,
    );
  }
  // The chunk that did not fit was given back: the upload still holds nothing.
  expect(status).toMatchObject({ status: 204, range: "0-0" });
  expect(report.uploadBytesAfterFull).toBe(0);
  expect(report.invariantsAfterFull.violations).toEqual([]);
  const [refused] = report.readOnly;
  expect(refused!.status).toBe(503);
  expect(JSON.parse(refused!.body).errors[0].message).toMatch(/storage is read-only/);
  expect(report.pullWhileReadOnly).toBe(200);
  expect(report.invariantsAfterReadOnly.violations).toEqual([]);
  expect(report.pushAfterRecovery).toBe(201);
  // The refused upload start is a failed push, audited with its reason.
  expect(report.events).toContainEqual({
    action: "container-registry.image.push",
    outcome: "failure",
    reasonCode: 503,
    reason: expect.stringMatching(/storage is read-only/),
  });
  for (const e of report.events) expect(e.reason).not.toMatch(/ENOSPC|EROFS|\/tmp\//);
}

describe("disk errors of the blob store fail the push cleanly, with a clear error, and leave nothing referenced that is not stored", () => {
  it("on a 5 MB tmpfs, full then read-only, under a server process (simulated where mounting is not allowed)", async () => {
    expectClean((await diskFaults()) ?? (await simulated()));
  }, 240_000);

  it("with a store that fails writes with ENOSPC past a cap and EROFS while read-only", async () => {
    const report = await simulated();
    expect(report.mode).toBe("simulated");
    expectClean(report);
  }, 240_000);
});
