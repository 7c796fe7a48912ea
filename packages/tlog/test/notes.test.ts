import { describe, expect, it } from "vitest";
import {
  checkAgainstPrevious,
  checkpointText,
  decodeSigningKey,
  decodeVerifierKey,
  encodeSigningKey,
  encodeVerifierKey,
  formatTlogProof,
  generateSigningKey,
  leafHash,
  openCheckpoint,
  openNote,
  parseTlogProof,
  rootOfLeaves,
  signCheckpoint,
} from "../src/index";

describe("signed notes and checkpoints (C2SP)", () => {
  const key = generateSigningKey("berth.test/us-south");
  const verifier = decodeVerifierKey(encodeVerifierKey(key));
  const checkpoint = {
    origin: "berth.test/us-south/a/acct-1",
    size: 3,
    root: rootOfLeaves([1, 2, 3].map((i) => leafHash(Buffer.from([i])))),
  };

  it("signs a checkpoint that opens with the verifier key, and the text is the C2SP body", () => {
    const note = signCheckpoint(checkpoint, key);
    expect(note.startsWith(checkpointText(checkpoint))).toBe(true);
    expect(note).toMatch(/\n\n\u2014 berth\.test\/us-south [A-Za-z0-9+/=]+\n$/);
    const opened = openCheckpoint(note, verifier, checkpoint.origin);
    expect(opened.ok && opened.checkpoint.size).toBe(3);
  });

  it("refuses a changed size, root or origin, another key, and a note with no signature of its key", () => {
    const note = signCheckpoint(checkpoint, key);
    expect(openNote(note.replace("\n3\n", "\n4\n"), verifier).ok).toBe(false);
    const other = generateSigningKey("berth.test/us-south");
    expect(openNote(signCheckpoint(checkpoint, other), verifier)).toMatchObject({ ok: false });
    expect(openCheckpoint(note, verifier, "berth.test/us-south/a/acct-2")).toMatchObject({
      ok: false,
    });
    expect(openNote(checkpointText(checkpoint), verifier).ok).toBe(false);
  });

  it("the signing key survives a round trip through its text form", () => {
    const again = decodeSigningKey(encodeSigningKey(key));
    expect(openCheckpoint(signCheckpoint(checkpoint, again), verifier).ok).toBe(true);
    expect(() =>
      decodeVerifierKey(encodeVerifierKey(key).replace(/\+[0-9a-f]{8}\+/, "+00000000+")),
    ).toThrow(/does not match/);
  });

  it("a tlog-proof round-trips", () => {
    const note = signCheckpoint(checkpoint, key);
    const text = formatTlogProof({
      index: 2,
      proof: [leafHash(Buffer.from("x"))],
      checkpoint: note,
    });
    expect(text.startsWith("c2sp.org/tlog-proof@v1\nindex 2\n")).toBe(true);
    expect(parseTlogProof(text)).toMatchObject({ index: 2, checkpoint: note });
  });

  it("a shrunk log is reported as inconsistent with the remembered checkpoint", () => {
    const bigger = { ...checkpoint, size: 5 };
    const result = checkAgainstPrevious(
      signCheckpoint(checkpoint, key),
      verifier,
      checkpoint.origin,
      bigger,
      [],
    );
    expect(result.problems).toEqual([
      expect.objectContaining({ kind: "inconsistent", oldSize: 5, newSize: 3 }),
    ]);
  });
});
