/** A tracker answer other than 2xx: its status and body (for the caller to classify). */
export class TrackerRequestError extends Error {
  override readonly name = "TrackerRequestError";
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`tracker answered ${status}: ${body.slice(0, 500)}`);
  }
}
