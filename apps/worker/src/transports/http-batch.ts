import { retryAfterMs } from "../backoff";
import { AbortedError, type Sender, type SendResult } from "../send";

/** Rejections of the request itself (its events' fault): a smaller batch isolates the cause. */
export const REJECTIONS = new Set([400, 413, 415, 422]);

export type Answer =
  | { kind: "ok" }
  | { kind: "rejected"; detail: string }
  | { kind: "failed"; detail: string; retryAfterMs?: number }
  | { kind: "aborted" };

/** POST and classify the answer the way every HTTP destination does. */
export async function post(
  sender: Sender,
  url: URL,
  body: Buffer,
  headers: Record<string, string>,
  opts: { timeoutMs: number; signal: AbortSignal },
): Promise<Answer> {
  let res: SendResult;
  try {
    res = await sender.post(url, body, headers, opts);
  } catch (error) {
    if (error instanceof AbortedError) return { kind: "aborted" };
    return { kind: "failed", detail: (error as Error).message };
  }
  if (res.status >= 200 && res.status < 300) return { kind: "ok" };
  // The origin and path only: a query string may carry a receiver's token.
  const detail = `${url.origin}${url.pathname} answered ${res.status}: ${res.body.slice(0, 300)}`;
  if (REJECTIONS.has(res.status)) return { kind: "rejected", detail };
  return { kind: "failed", detail, retryAfterMs: retryAfterMs(res.retryAfter) };
}
