import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";

// C2SP signed-note (https://c2sp.org/signed-note) with Ed25519 signatures (type 0x01).
const ED25519_TYPE = 0x01;
const SIGNATURE_PREFIX = "\u2014 ";
// Raw 32-byte Ed25519 keys are wrapped in these fixed DER headers to become KeyObjects.
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export interface SigningKey {
  name: string;
  privateKey: KeyObject;
  publicKey: Buffer;
}

export interface VerifierKey {
  name: string;
  keyId: Buffer;
  publicKey: Buffer;
}

function checkName(name: string): void {
  if (name.length === 0 || /[\s+]/u.test(name))
    throw new Error(
      `a note key name must be non-empty with no spaces or '+': ${JSON.stringify(name)}`,
    );
}

export function keyId(name: string, publicKey: Uint8Array): Buffer {
  return createHash("sha256")
    .update(name)
    .update(Buffer.from([0x0a, ED25519_TYPE]))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

export function generateSigningKey(name: string): SigningKey {
  checkName(name);
  const { privateKey } = generateKeyPairSync("ed25519");
  return signingKeyFrom(name, privateKey);
}

function signingKeyFrom(name: string, privateKey: KeyObject): SigningKey {
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return { name, privateKey, publicKey: Buffer.from(spki.subarray(SPKI_PREFIX.length)) };
}

/** `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || 32-byte seed)>`, the form Go's note package uses. */
export function encodeSigningKey(key: SigningKey): string {
  const der = key.privateKey.export({ format: "der", type: "pkcs8" });
  const seed = der.subarray(PKCS8_PREFIX.length);
  return `PRIVATE+KEY+${key.name}+${keyId(key.name, key.publicKey).toString("hex")}+${Buffer.concat([Buffer.from([ED25519_TYPE]), seed]).toString("base64")}`;
}

export function decodeSigningKey(text: string): SigningKey {
  // base64 may itself contain '+', so only the first four separators split.
  const m = /^PRIVATE\+KEY\+([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(text.trim());
  if (!m) throw new Error("not a note signing key (PRIVATE+KEY+name+id+key)");
  const [, name, , encoded] = m as unknown as [string, string, string, string];
  checkName(name);
  const raw = Buffer.from(encoded, "base64");
  if (raw.length !== 33 || raw[0] !== ED25519_TYPE)
    throw new Error("the signing key is not an Ed25519 key");
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, raw.subarray(1)]),
    format: "der",
    type: "pkcs8",
  });
  return signingKeyFrom(name, privateKey);
}

/** `<name>+<hex key id>+<base64(0x01 || public key)>`: the verifier key a user pins. */
export function encodeVerifierKey(key: { name: string; publicKey: Buffer }): string {
  return `${key.name}+${keyId(key.name, key.publicKey).toString("hex")}+${Buffer.concat([Buffer.from([ED25519_TYPE]), key.publicKey]).toString("base64")}`;
}

export function decodeVerifierKey(text: string): VerifierKey {
  const m = /^([^+]+)\+([0-9a-fA-F]{8})\+(.+)$/.exec(text.trim());
  if (!m) throw new Error("a verifier key is <name>+<hex key id>+<base64 key>");
  const [, name, hexId, encoded] = m as unknown as [string, string, string, string];
  checkName(name);
  const raw = Buffer.from(encoded, "base64");
  if (raw.length !== 33 || raw[0] !== ED25519_TYPE)
    throw new Error("the verifier key is not an Ed25519 key");
  const publicKey = raw.subarray(1);
  const id = keyId(name, publicKey);
  if (id.toString("hex") !== hexId.toLowerCase())
    throw new Error("the verifier key's id does not match its name and key");
  return { name, keyId: id, publicKey };
}

/** Signs `text` (which must end in a newline) as a note with one signature line. */
export function signNote(text: string, key: SigningKey): string {
  if (!text.endsWith("\n")) throw new Error("note text must end with a newline");
  const signature = sign(null, Buffer.from(text, "utf8"), key.privateKey);
  const blob = Buffer.concat([keyId(key.name, key.publicKey), signature]).toString("base64");
  return `${text}\n${SIGNATURE_PREFIX}${key.name} ${blob}\n`;
}

/**
 * Opens a signed note: the text, when a signature by `key` verifies; otherwise the reason.
 * Signatures by other keys are ignored, as the spec requires.
 */
export function openNote(
  note: string,
  key: VerifierKey,
): { ok: true; text: string } | { ok: false; reason: string } {
  if (note.length > 1_000_000) return { ok: false, reason: "the note is too large" };
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n"))
    return { ok: false, reason: "not a signed note (no blank line before signatures)" };
  const text = note.slice(0, split + 1);
  const publicKey = createPublicKey({
    key: Buffer.concat([SPKI_PREFIX, key.publicKey]),
    format: "der",
    type: "spki",
  });
  let verified = false;
  for (const line of note.slice(split + 2, -1).split("\n")) {
    if (!line.startsWith(SIGNATURE_PREFIX))
      return { ok: false, reason: "malformed signature line" };
    const [name, blob] = line.slice(SIGNATURE_PREFIX.length).split(" ");
    if (!name || !blob) return { ok: false, reason: "malformed signature line" };
    const raw = Buffer.from(blob, "base64");
    if (name !== key.name || raw.length < 4 || !raw.subarray(0, 4).equals(key.keyId)) continue;
    if (!verify(null, Buffer.from(text, "utf8"), publicKey, raw.subarray(4)))
      return { ok: false, reason: `the signature by ${key.name} does not verify` };
    verified = true;
  }
  return verified
    ? { ok: true, text }
    : { ok: false, reason: `no signature by ${key.name} (key id ${key.keyId.toString("hex")})` };
}
