/**
 * A worker retry policy for fault tests: retries a second apart at most, so a backlog drains
 * soon after its outage ends, and a budget of tries that outlasts any outage a test makes.
 * With full jitter a 1 s cap averages ~0.5 s a try, so the default 25 tries would span ~12 s:
 * less than an outage plus a restart on a busy machine, and an event would be dead-lettered
 * (never delivered) instead of waiting for its endpoint.
 */
export const QUICK_RETRIES: Record<string, string> = {
  BERTH_WORKER_RETRY_BASE_MS: "100",
  BERTH_WORKER_RETRY_MAX_MS: "1000",
  BERTH_WORKER_MAX_ATTEMPTS: "1000",
};
