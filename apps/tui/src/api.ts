import type { BuildImageResult, BuildMessage, BuildProgress } from "@berth/api";
import {
  type BerthClient,
  berthErrorCode,
  createBerthClient,
  TRPCClientError,
  untracked,
} from "@berth/client";
import { VERSION } from "./version";

export type { BerthClient, BuildMessage, BuildProgress };

/** What a procedure resolves to. */
export type Out<F> = F extends (...args: never[]) => Promise<infer R> ? R : never;

export type NamespaceRow = Out<BerthClient["namespace"]["list"]["query"]>["items"][number];
export type ImageRow = Out<BerthClient["image"]["list"]["query"]>["items"][number];
export type ImageDetails = Out<BerthClient["image"]["inspect"]["query"]>;
export type TokenRow = Out<BerthClient["registrytoken"]["list"]["query"]>["items"][number];
export type CreatedToken = Out<BerthClient["registrytoken"]["create"]["mutate"]>;
export type QuotaInfo = Out<BerthClient["quota"]["get"]["query"]>;
export type PlanInfo = Out<BerthClient["plan"]["get"]["query"]>;
export type ExemptionRow = Out<BerthClient["exemption"]["list"]["query"]>["items"][number];
export type EventsPage = Out<BerthClient["events"]["query"]["query"]>;
export type EventLine = EventsPage["lines"][number];
export type DeliveryStatus = Out<BerthClient["delivery"]["status"]["query"]>;
export type DeadLetter = Out<BerthClient["delivery"]["dead"]["query"]>[number];
export type BulkResult = Out<BerthClient["image"]["rm"]["mutate"]>["results"][number];
/** The structured filters of events.query and events.tail. */
export interface EventsFilter {
  region?: string;
  query?: string;
  action?: string[];
  outcome?: ("success" | "failure" | "pending")[];
  severity?: ("normal" | "warning" | "critical")[];
  initiator?: string;
  target?: string;
}
/** The image a build stored. */
export type BuildResult = BuildImageResult;
export type TailMessage = { kind: "ready"; region: string } | { kind: "line"; line: EventLine };
/** What events.tail sends: its lines tracked (`{ id, data }`), where a reconnect resumes. */
export type TailEvent = TailMessage | { id: string; data: TailMessage };
export { untracked };

export const USER_AGENT = `berth-cli/${VERSION}`;

export function connect(url: string, apiKey: string | undefined): BerthClient {
  return createBerthClient({
    url,
    ...(apiKey ? { apiKey } : {}),
    headers: { "user-agent": USER_AGENT },
  });
}

/** The message of a failed call as a user should read it. */
export function errorMessage(error: unknown, url?: string): string {
  if (error instanceof TRPCClientError) {
    const cause = (error as { cause?: unknown }).cause;
    if (!error.data && isConnectionFailure(cause ?? error)) {
      return `cannot reach the Berth server${url ? ` at ${url}` : ""}: ${connectionReason(cause ?? error)}`;
    }
    return error.message;
  }
  if (isConnectionFailure(error)) {
    return `cannot reach the Berth server${url ? ` at ${url}` : ""}: ${connectionReason(error)}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Berth's error code (NOT_FOUND, CONFLICT, PLAN_LIMIT...) when the server gave one. */
export function errorCode(error: unknown): string | undefined {
  return berthErrorCode(error);
}

function isConnectionFailure(error: unknown): boolean {
  return error instanceof TypeError && /fetch failed/i.test(error.message);
}

function connectionReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? "connection failed";
}
