// Test fixtures shared by the worker's and the tracker's tests: events and ingestion lines.
import { randomBytes, randomUUID } from "node:crypto";
import {
  type ActionName,
  type AtEvent,
  buildEvent,
  type Outcome,
  type RegionName,
  uuidV7,
} from "@berth/core";

let clock = Date.now();

/** A valid event built by core, with a fresh UUIDv7 and a strictly increasing time. */
export function makeEvent(
  opts: {
    account?: string;
    region?: RegionName;
    action?: ActionName;
    outcome?: Outcome;
    reasonCode?: number;
    target?: string;
    initiator?: string;
    time?: Date;
  } = {},
): AtEvent {
  clock += 10;
  const time = opts.time ?? new Date(clock);
  const outcome = opts.outcome ?? "success";
  return buildEvent({
    id: uuidV7(time.getTime(), randomBytes(10)),
    time,
    action: opts.action ?? "container-registry.namespace.create",
    outcome,
    region: opts.region ?? "us-south",
    account: opts.account ?? "acct1",
    initiator: {
      id: opts.initiator ?? "IBMid-alice",
      name: opts.initiator ?? "alice@example.com",
      typeURI: "service/security/account/user",
      credential: { type: "apikey" },
      host: { address: "127.0.0.1", addressType: "IPv4", agent: "test" },
    },
    target: { name: opts.target ?? "birds" },
    reasonCode: opts.reasonCode ?? (outcome === "failure" ? 409 : 200),
    messageDetail: opts.target ?? "birds",
    correlationId: randomUUID(),
  });
}

export function lineOf(e: AtEvent) {
  return {
    timestamp: Date.now(),
    line: e.message,
    app: "container-registry",
    level: "INFO",
    meta: e,
  };
}
