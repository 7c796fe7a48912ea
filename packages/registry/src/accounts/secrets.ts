import {
  createHash,
  createHmac,
  randomBytes,
  type ScryptOptions,
  scrypt,
  timingSafeEqual,
} from "node:crypto";

/**
 * Credentials Berth generates are random, prefixed so a leaked one is recognisable (secret
 * scanners, our own log checks), and stored only as a SHA-256 hash. A hash of 256 random
 * bits needs no salt or slow KDF: there is nothing to guess. Keys an operator chooses are
 * another matter (see hashChosenSecret).
 */
export const API_KEY_PREFIX = "berth_ak_";
export const REGISTRY_TOKEN_PREFIX = "berth_rt_";

export function generateSecret(prefix: string): string {
  return `${prefix}${randomBytes(32).toString("base64url")}`;
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/**
 * Whether `secret` hashes to `storedHash`, in constant time. Rows are looked up by hash,
 * so this re-check guards against a lookup that matched for another reason (collation,
 * truncation) and keeps the comparison itself free of timing leaks.
 */
export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Random hex id of `bytes` bytes. */
export function randomId(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}

/** The shape of an API key Berth generated: the prefix and 256 random bits. */
export const GENERATED_API_KEY = /^berth_ak_[A-Za-z0-9_-]{43}$/;

/**
 * scrypt, N = 2^15, r = 8, p = 1: 32 MiB and, on one core of the test machine, about 0.1 s
 * (unloaded). Kept in the stored value, so rows made with other parameters still verify.
 */
const SCRYPT = { log2N: 15, r: 8, p: 1, keyLength: 32, saltBytes: 16 };

/**
 * One scrypt at a time. They run on libuv's thread pool (4 threads), which file I/O shares:
 * wrong keys that happen to fall in a chosen key's bucket, sent from many addresses, would
 * otherwise take every thread (and 32 MiB each) and stall blob reads and writes. Chosen keys
 * are verified once per process (see rememberChosen), so honest clients rarely wait here.
 */
let scryptTail: Promise<unknown> = Promise.resolve();

function scryptAsync(
  secret: string,
  salt: Buffer,
  keyLength: number,
  opts: ScryptOptions,
): Promise<Buffer> {
  const run = scryptTail.then(
    () =>
      new Promise<Buffer>((resolve, reject) =>
        scrypt(secret, salt, keyLength, opts, (error, key) =>
          error ? reject(error) : resolve(key),
        ),
      ),
  );
  scryptTail = run.catch(() => {});
  return run;
}

const options = (log2N: number, r: number, p: number): ScryptOptions => ({
  N: 2 ** log2N,
  r,
  p,
  // scrypt needs 128·N·r bytes; node's default cap is exactly 32 MiB.
  maxmem: 256 * 2 ** log2N * r,
});

/**
 * The stored form of a secret someone chose (BERTH_DEV_API_KEY, say), which may be short of
 * 256 random bits: scrypt with a random per-key salt, `$scrypt$ln=15,r=8,p=1$<salt>$<hash>`.
 * Whoever reads the table must spend a scrypt per guess and per key.
 */
export async function hashChosenSecret(secret: string): Promise<string> {
  const { log2N, r, p, keyLength, saltBytes } = SCRYPT;
  const salt = randomBytes(saltBytes);
  const hash = await scryptAsync(secret, salt, keyLength, options(log2N, r, p));
  return `$scrypt$ln=${log2N},r=${r},p=${p}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

const STORED_SCRYPT =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

/** Whether `secret` is the one `stored` (from hashChosenSecret) was made from. */
export async function chosenSecretMatches(secret: string, stored: string): Promise<boolean> {
  const m = STORED_SCRYPT.exec(stored);
  if (!m) return false;
  const [log2N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (log2N < 10 || log2N > 20 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  const expected = Buffer.from(m[5]!, "base64");
  const got = await scryptAsync(
    secret,
    Buffer.from(m[4]!, "base64"),
    expected.length,
    options(log2N, r, p),
  );
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/**
 * The non-secret fingerprint a chosen key's row is found by: the first hex digit (4 bits) of
 * its SHA-256. A presented key is then tried against the scrypt rows of its bucket only
 * (1 in 16 of them), and a wrong key costs a scrypt only when it happens to share a chosen
 * key's bucket. What it gives away: whoever holds the table can discard 15 in 16 guesses at
 * SHA-256 speed before paying a scrypt, so the work per guess is a 16th of a scrypt rather
 * than a whole one (still thousands of SHA-256s). More bits would find rows faster and
 * give more away; no fingerprint would scrypt every chosen row on every lookup.
 */
export function fingerprintOf(secret: string): string {
  return hashSecret(secret).slice(0, 1);
}

/**
 * Chosen keys already verified by this process, so that a client sending the same key with
 * every request pays one scrypt, not one per request: keyed by an HMAC under a per-process
 * random key (what the map holds is of no use outside this process), mapped to the stored
 * value it matched. A row that changes or goes is simply not matched again.
 */
const VERIFIED_CHOSEN_MAX = 1000;
const verifiedChosen = new Map<string, string>();
const processKey = randomBytes(32);

export function rememberedChosen(secret: string, stored: string): boolean {
  return (
    verifiedChosen.get(createHmac("sha256", processKey).update(secret).digest("hex")) === stored
  );
}

export function rememberChosen(secret: string, stored: string): void {
  if (verifiedChosen.size >= VERIFIED_CHOSEN_MAX) {
    const oldest = verifiedChosen.keys().next().value;
    if (oldest !== undefined) verifiedChosen.delete(oldest);
  }
  verifiedChosen.set(createHmac("sha256", processKey).update(secret).digest("hex"), stored);
}
