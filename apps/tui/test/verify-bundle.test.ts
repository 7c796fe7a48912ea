import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  encodeVerifierKey,
  eventLeafHash,
  generateSigningKey,
  rootOfLeaves,
  signCheckpoint,
} from "@berth/tlog";
import { describe, expect, it } from "vitest";
import { berth } from "./cli";

// Offline bundle verification by the real CLI process, with BERTH_URL pointing at a closed
// port: an untouched bundle verifies; a changed, deleted, inserted or swapped event fails,
// named by index and id; a wrong key fails.

const origin = "berth.tracker/us-south/acct-1";
const key = generateSigningKey("berth.tracker");
const verifier = encodeVerifierKey(key);
const events = Array.from({ length: 6 }, (_, i) => ({
  id: `00000000-0000-4000-8000-00000000000${i}`,
  action: "container-registry.namespace.create",
  message: `event ${i}`,
}));
const leaves = events.map((e) => eventLeafHash(e));
const checkpoint = signCheckpoint({ origin, size: events.length, root: rootOfLeaves(leaves) }, key);
const entries = events.map((event, index) => ({
  index,
  id: event.id,
  leaf: leaves[index]!.toString("base64"),
  event,
}));
const bundle = (list: { index: number; id: string; leaf: string; event: unknown }[]) => ({
  format: "berth.tlog-bundle/v1",
  origin,
  checkpoint,
  start: 0,
  end: events.length,
  entries: list,
  proof: [],
});

async function verify(b: unknown, k = verifier) {
  const dir = mkdtempSync(join(tmpdir(), "berth-bundle-"));
  const file = join(dir, "log.json");
  writeFileSync(file, JSON.stringify(b));
  return berth(["events-verify", "--bundle", file, "--key", k], {
    BERTH_URL: "http://127.0.0.1:1",
    BERTH_API_KEY: "unused",
    BERTH_CONFIG: join(dir, "config.json"),
  });
}

describe("berth events-verify --bundle (offline)", () => {
  it("verifies an untouched bundle", async () => {
    const r = await verify(bundle(entries));
    expect(r.stdout).toContain(`verified 6 events, checkpoint size 6, origin ${origin}`);
    expect(r.code).toBe(0);
  });

  it("names a changed, missing, inserted or reordered event, and a wrong key", async () => {
    const changed = entries.map((e) =>
      e.index === 2 ? { ...e, event: { ...e.event, message: "edited" } } : e,
    );
    const r1 = await verify(bundle(changed));
    expect(r1.code).toBe(1);
    expect(r1.stdout).toContain(`event ${events[2]!.id} at index 2 was changed`);

    const r2 = await verify(bundle(entries.filter((e) => e.index !== 3)));
    expect(r2.code).toBe(1);
    expect(r2.stdout).toContain("the event at index 3 is missing");

    const forged = {
      ...entries[4]!,
      id: "00000000-0000-4000-8000-0000000000ff",
      event: { id: "x" },
    };
    const r3 = await verify(bundle([...entries.slice(0, 5), forged, entries[5]!]));
    expect(r3.code).toBe(1);
    expect(r3.stdout).toMatch(/at index 4 (was inserted|is out of order)/);

    const swapped = [entries[0]!, entries[2]!, entries[1]!, ...entries.slice(3)];
    const r4 = await verify(bundle(swapped));
    expect(r4.code).toBe(1);
    expect(r4.stdout).toMatch(/index 1|out of order/);

    const other = encodeVerifierKey(generateSigningKey("berth.tracker"));
    const r5 = await verify(bundle(entries), other);
    expect(r5.code).toBe(1);
    expect(r5.stdout).toContain("checkpoint signature");
  });
});
