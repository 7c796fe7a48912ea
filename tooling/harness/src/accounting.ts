import type { Sql } from "@berth/db";
import { allEvents } from "./invariants";
import { ACTION_OF, type OpRecord } from "./workload";

export interface EventAccounting {
  /** Operations answered with success. */
  acknowledged: number;
  /** Audited requests answered with success but without their success event. */
  missing: string[];
  /** Requests with more than one event: duplicated. */
  duplicated: string[];
  /** Events of requests that were refused (an answer that is not 2xx) but say success. */
  phantom: string[];
}

/**
 * Match the workload's audited requests with the events stored (outbox and tracker): every
 * one answered with success has exactly one success event of its action; no request has
 * more than one event; one answered with a refusal has no success event, and one never
 * sent has none at all. A request that got no answer (connection cut by a crash) may have
 * committed or not, and has at most one event.
 */
export async function accountEvents(sql: Sql, records: OpRecord[]): Promise<EventAccounting> {
  const byRequest = new Map<string, { action: string; outcome: string }[]>();
  for (const e of await allEvents(sql)) {
    const list = byRequest.get(e.correlationId);
    if (list) list.push(e);
    else byRequest.set(e.correlationId, [e]);
  }
  const result: EventAccounting = { acknowledged: 0, missing: [], duplicated: [], phantom: [] };
  for (const r of records) {
    const events = byRequest.get(r.requestId) ?? [];
    if (events.length > 1) result.duplicated.push(r.requestId);
    if (r.ok) result.acknowledged++;
    const a = r.audited;
    if (a === undefined) {
      if (events.length > 0) result.phantom.push(`${r.requestId} (${r.op}, never sent)`);
    } else if (a >= 200 && a < 300) {
      if (!events.some((e) => e.outcome === "success" && e.action === ACTION_OF[r.op])) {
        result.missing.push(`${r.requestId} (${r.op})`);
      }
    } else if (a !== 0 && events.some((e) => e.outcome === "success")) {
      result.phantom.push(`${r.requestId} (${r.op}, answered ${a})`);
    }
  }
  return result;
}
