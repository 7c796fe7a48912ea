export class SecretInEventDataError extends Error {
  override readonly name = "SecretInEventDataError";
  constructor(readonly path: string) {
    // The value itself is never echoed: the error may end up in logs.
    super(`event data must not carry secrets: "${path}" looks like a credential`);
  }
}

// Matched against the key lowercased with separators removed, so "api_key",
// "apiKey" and "API-Key" are all caught. "token" alone or as a suffix is a
// secret ("accessToken", "token_value"), while "tokenId" or "tokens" (a list
// of token metadata) are ordinary data.
const SECRET_FRAGMENTS = [
  "password",
  "passwd",
  "passphrase",
  "secret",
  "apikey",
  "authorization",
  "tokenvalue",
  "privatekey",
  "accesskey",
  "ingestionkey",
  "cookie",
] as const;

// An Authorization header value: scheme, then one opaque credential.
const CREDENTIAL_VALUE = /^\s*(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}\s*$/i;

/**
 * Answers by key, remembered: every event's data is walked (twice: by buildEvent and by the
 * event schema) and its keys are nearly always the same few. Bounded, for keys from input.
 */
const keyVerdicts = new Map<string, boolean>();
const KEY_VERDICTS_KEPT = 4096;

function looksLikeSecretKey(key: string): boolean {
  let verdict = keyVerdicts.get(key);
  if (verdict === undefined) {
    const k = key.toLowerCase().replace(/[^a-z0-9]/g, "");
    verdict = k.endsWith("token") || SECRET_FRAGMENTS.some((fragment) => k.includes(fragment));
    if (keyVerdicts.size >= KEY_VERDICTS_KEPT) keyVerdicts.clear();
    keyVerdicts.set(key, verdict);
  }
  return verdict;
}

/**
 * Throw if an object destined for requestData/responseData carries
 * something that looks like a credential, by key name or by an
 * Authorization-header-shaped value. Audit events are copied to places
 * with weaker access control than the credential store.
 */
export function assertNoSecrets(value: unknown, path = "data"): void {
  walk(value, path, new WeakSet());
}

export function containsSecrets(value: unknown): boolean {
  try {
    assertNoSecrets(value);
    return false;
  } catch (error) {
    if (error instanceof SecretInEventDataError) return true;
    throw error;
  }
}

function walk(value: unknown, path: string, seen: WeakSet<object>): void {
  if (typeof value === "string") {
    if (CREDENTIAL_VALUE.test(value)) throw new SecretInEventDataError(path);
    return;
  }
  if (value === null || typeof value !== "object") return;
  if (seen.has(value)) return;
  seen.add(value);
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      walk(item, `${path}[${index}]`, seen);
    });
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const itemPath = `${path}.${key}`;
    if (looksLikeSecretKey(key)) throw new SecretInEventDataError(itemPath);
    walk(item, itemPath, seen);
  }
}
