import { get as httpGet } from "node:http";

// Requests made by hand where the typed client would hide what a test looks at (the raw
// status and body, another source address, headers or forms the client does not send).

/**
 * GET `path` of the server at `base` from the loopback address `from` (127.0.0.x: another
 * source than the tests' 127.0.0.1), with `headers`; resolves with the status.
 */
export function getFrom(
  base: string,
  path: string,
  from: string,
  headers: Record<string, string>,
): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise<number>((resolve, reject) => {
    httpGet({ host: hostname, port, path, localAddress: from, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on("error", reject);
  });
}

/**
 * A tRPC mutation as a plain HTTP POST (the key as Bearer, `input` as JSON, `headers` added),
 * for tests that read the raw status and body or send headers the client does not.
 */
export function postTrpc(
  base: string,
  apiKey: string,
  path: string,
  input: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${base}/trpc/${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(input),
  });
}

/**
 * POST /token the OAuth2 way (a form with grant_type password and user iambearer): a client
 * refreshing the bearer token `jwt` for `scope` (space-separated), optionally naming `service`.
 */
export function refreshByForm(
  base: string,
  jwt: string,
  scope: string,
  service?: string,
): Promise<Response> {
  return fetch(`${base}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "password",
      username: "iambearer",
      password: jwt,
      ...(service ? { service } : {}),
      scope,
    }).toString(),
  });
}
