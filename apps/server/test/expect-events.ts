import type { AtEvent, RegionName } from "@berth/core";
import { eventSchema } from "@berth/core";
import { type Db, outbox } from "@berth/db";
import type { CreatedAccount } from "@berth/registry";
import { eq, sql } from "drizzle-orm";
import { expect } from "vitest";

// What the tests assert about events: the outbox rows of a request, an account's count, and
// one event field by field as the tracker will receive it.

/** The user agent of the tests' clients, as events name it. */
export const USER_AGENT = "berth-test/1.0";

export type RequestEvents = { event: AtEvent; region: string; accountId: string }[];

/** Outbox events of one request, validated against core's schema, in insertion order. */
export async function requestEvents(db: Db, requestId: string): Promise<RequestEvents> {
  const rows = await db
    .select({ payload: outbox.payload, region: outbox.region, accountId: outbox.accountId })
    .from(outbox)
    .where(sql`${outbox.payload}->>'correlationId' = ${requestId}`)
    .orderBy(outbox.seq);
  return rows.map((r) => ({
    event: eventSchema.parse(r.payload),
    region: r.region,
    accountId: r.accountId,
  }));
}

/** How many events an account has in the outbox: what a refused request must not change. */
export async function eventCount(db: Db, accountId: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(outbox)
    .where(eq(outbox.accountId, accountId));
  return row!.n;
}

/** Location of each region inside CRNs, written out here rather than taken from core. */
const LOCATION: Record<string, string> = {
  "us-south": "us-south",
  "ap-north": "jp-tok",
  "ap-south": "au-syd",
  "eu-central": "eu-de",
  "uk-south": "eu-gb",
  global: "global",
};

export function crn(region: string, account: string, type: string, resource: string): string {
  return `crn:v1:bluemix:public:container-registry:${LOCATION[region]}:a/${account}::${type}:${resource}`;
}

export interface ExpectedEvent {
  action: string;
  outcome: "success" | "failure";
  severity: "normal" | "warning" | "critical";
  reasonCode: number;
  who: CreatedAccount;
  targetType: string;
  targetName: string;
  /** CRN resource when it differs from the name (image by digest). */
  crnResource?: string;
  region?: RegionName;
  message?: string;
}

/** Assert one event, field by field, as the tracker will receive it. */
export function checkEvent(
  found: { event: AtEvent; region: string; accountId: string } | undefined,
  requestId: string,
  e: ExpectedEvent,
): AtEvent {
  expect(found, `no event for ${requestId}`).toBeDefined();
  const { event, region, accountId } = found!;
  const r = e.region ?? "us-south";
  const type = e.targetType;
  expect(event.action).toBe(e.action);
  expect(event.outcome).toBe(e.outcome);
  expect(event.severity).toBe(e.severity);
  expect(event.reason.reasonCode).toBe(e.reasonCode);
  if (e.outcome === "failure") {
    expect(event.message.endsWith(" -failure")).toBe(true);
    expect(event.reason.reasonForFailure).toBeTruthy();
  } else {
    expect(event.reason.reasonForFailure).toBeUndefined();
  }
  if (e.message) expect(event.message).toBe(e.message);
  expect(event.target).toEqual({
    id: crn(r, e.who.account.id, type, e.crnResource ?? e.targetName),
    name: e.targetName,
    typeURI: `container-registry/${type}`,
  });
  expect(event.initiator).toEqual({
    id: e.who.user.id,
    name: e.who.user.name,
    typeURI: "service/security/account/user",
    credential: { type: "apikey" },
    host: { address: "127.0.0.1", addressType: "IPv4", agent: USER_AGENT },
  });
  expect(event.logSourceCRN).toBe(crn(r, e.who.account.id, "", ""));
  expect(event.observer).toEqual({ name: "ActivityTracker" });
  expect(event.correlationId).toBe(requestId);
  expect(region).toBe(r);
  expect(accountId).toBe(e.who.account.id);
  return event;
}

/** The single event of a request, checked. */
export async function expectOneEvent(
  env: { events(requestId: string): Promise<RequestEvents> },
  requestId: string,
  e: ExpectedEvent,
): Promise<AtEvent> {
  const events = await env.events(requestId);
  expect(events, `events of ${requestId}`).toHaveLength(1);
  return checkEvent(events[0], requestId, e);
}
