import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import {
  decodeSigningKey,
  encodeSigningKey,
  encodeVerifierKey,
  generateSigningKey,
  type SigningKey,
} from "@berth/tlog";

/** The note key name every checkpoint of this tracker is signed under. */
export const LOG_KEY_NAME = "berth.tracker";

/** The origin line of an account domain's log: names the tracker region and the account. */
export function logOrigin(region: string, account: string): string {
  return `${LOG_KEY_NAME}/${region}/${account}`;
}

/**
 * The checkpoint signing key: given as text (a setting), or made once and kept in `file`
 * (mode 0600), so every restart and every tracker process sharing the file signs with one key.
 */
export async function loadSigningKey(opts: { key?: string; file?: string }): Promise<SigningKey> {
  if (opts.key) return decodeSigningKey(opts.key);
  if (!opts.file) return generateSigningKey(LOG_KEY_NAME);
  try {
    return decodeSigningKey(await readFile(opts.file, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const key = generateSigningKey(LOG_KEY_NAME);
  await mkdir(dirname(opts.file), { recursive: true });
  try {
    // 'wx': a second process starting at the same moment keeps the key the first one wrote.
    await writeFile(opts.file, `${encodeSigningKey(key)}\n`, { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      return decodeSigningKey(await readFile(opts.file, "utf8"));
    throw error;
  }
  await chmod(opts.file, 0o600);
  return key;
}

export function verifierKeyOf(key: SigningKey): string {
  return encodeVerifierKey(key);
}
