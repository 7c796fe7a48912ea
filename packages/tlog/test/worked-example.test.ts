import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  consistencyRanges,
  decodeSigningKey,
  encodeSigningKey,
  encodeVerifierKey,
  eventLeafBytes,
  eventLeafHash,
  inclusionRanges,
  rangeProofRanges,
  rootOfLeaves,
  signCheckpoint,
  verifyConsistency,
  verifyInclusion,
} from "../src/index";

// docs/verifiable-log.md's worked example, recomputed: every value the page shows must be
// what this library computes, so a third party can check their verifier against the page.

const doc = readFileSync(new URL("../../../docs/verifiable-log.md", import.meta.url), "utf8");
const seed = Buffer.alloc(32, 7);
const key = decodeSigningKey(
  `PRIVATE+KEY+berth.tracker+00000000+${Buffer.concat([Buffer.from([1]), seed]).toString("base64")}`,
);
const crn = (resource: string) =>
  `crn:v1:bluemix:public:container-registry:us-south:a/1a2b3c::${resource}`;
const events = [
  ["namespace.create", "namespace:birds", "birds"],
  ["image.push", "image:birds/robin:1", "birds/robin:1"],
  ["image.pull", "image:birds/robin:1", "birds/robin:1"],
].map(([action, resource, name], i) => ({
  id: `0193a5b0-0000-7000-8000-00000000000${i + 1}`,
  action: `container-registry.${action}`,
  outcome: "success",
  eventTime: `2026-12-06T07:00:0${i}.00+0000`,
  target: { id: crn(resource as string), name },
}));
const leaves = events.map(eventLeafHash);
const origin = "berth.tracker/us-south/1a2b3c";

describe("the worked example of docs/verifiable-log.md", () => {
  it("shows the keys, canonical events and leaf hashes this library computes", () => {
    expect(doc).toContain(`signing key   ${encodeSigningKey(key)}`);
    expect(doc).toContain(`verifier key  ${encodeVerifierKey(key)}`);
    events.forEach((e, i) => {
      expect(doc).toContain(`${i} ${eventLeafBytes(e).toString("utf8")}`);
      const h = leaves[i]!;
      expect(doc).toContain(`L${i} ${h.toString("hex")}  ${h.toString("base64")}`);
    });
  });

  it("shows the roots, the signed checkpoint and proofs that verify", () => {
    const root2 = rootOfLeaves(leaves.slice(0, 2));
    const root3 = rootOfLeaves(leaves);
    expect(doc).toContain(`root of size 2  ${root2.toString("base64")}`);
    expect(doc).toContain(`root of size 3  ${root3.toString("base64")}`);
    expect(doc).toContain(signCheckpoint({ origin, size: 3, root: root3 }, key));
    const [l0, , l2] = leaves as [Buffer, Buffer, Buffer];
    expect(inclusionRanges(1, 3)).toEqual([
      { start: 0, end: 1 },
      { start: 2, end: 3 },
    ]);
    expect(verifyInclusion(1, 3, leaves[1]!, [l0, l2], root3)).toBe(true);
    expect(consistencyRanges(2, 3)).toEqual([{ start: 2, end: 3 }]);
    expect(verifyConsistency(2, 3, [l2], root2, root3)).toBe(true);
    expect(rangeProofRanges(1, 3, 3)).toEqual([{ start: 0, end: 1 }]);
    expect(rangeProofRanges(0, 3, 3)).toEqual([]);
  });
});
