/**
 * A mixed workload of audited requests, as real clients send them over loopback: OCI pushes
 * and pulls, tRPC management calls (creates, deletes, lists). Every request has its own
 * x-request-id (the events' correlationId), so that afterwards each answered request can be
 * matched with its event. Bounded in time and in count; a failed request backs off a little
 * so an outage is not a busy loop.
 */
import { randomInt } from "node:crypto";
import { basic, HttpError, IntegrityError, pullImage, pushImage, randomImage } from "./oci";
import { sleep } from "./processes";

export const OPS = [
  "push",
  "pull",
  "namespace.create",
  "namespace.delete",
  "namespace.list",
  "image.list",
  "quota.get",
  "registrytoken.create",
  "registrytoken.delete",
] as const;
export type OpName = (typeof OPS)[number];

/** The action each operation is an attempt of (one event per request). */
export const ACTION_OF: Record<OpName, string> = {
  push: "container-registry.image.push",
  pull: "container-registry.image.pull",
  "namespace.create": "container-registry.namespace.create",
  "namespace.delete": "container-registry.namespace.delete",
  "namespace.list": "container-registry.namespace.list",
  "image.list": "container-registry.image.list",
  "quota.get": "container-registry.quota.get",
  "registrytoken.create": "container-registry.registrytoken.create",
  "registrytoken.delete": "container-registry.registrytoken.delete",
};

/** How the server says a commit is in doubt (COMMIT_IN_DOUBT_MESSAGE in the registry). */
const IN_DOUBT = /may have been saved/;

export const DEFAULT_MIX: Record<OpName, number> = {
  push: 3,
  pull: 4,
  "namespace.create": 1,
  "namespace.delete": 1,
  "namespace.list": 2,
  "image.list": 1,
  "quota.get": 1,
  "registrytoken.create": 1,
  "registrytoken.delete": 1,
};

export interface Actor {
  name: string;
  apiKey: string;
  /** A namespace of the actor that pushes go into (never deleted by the workload). */
  namespace: string;
}

export interface OpRecord {
  op: OpName;
  actor: string;
  requestId: string;
  /**
   * HTTP status of the operation's last request; 0 when no answer came (refused or cut),
   * -1 when what was served did not match its digest.
   */
  status: number;
  ok: boolean;
  /**
   * The audited request (a push's manifest PUT, a pull's manifest GET, the tRPC call):
   * undefined when the operation failed before sending it, 0 when it got no answer.
   */
  audited?: number;
  ms: number;
  /** ms since the workload started. */
  at: number;
  error?: string;
}

interface ActorState {
  actor: Actor;
  images: { repository: string; tag: string }[];
  namespaces: string[];
  tokens: string[];
}

export interface WorkloadOptions {
  /** Base URL of the server (a function when it may change, e.g. after a restart). */
  base: string | (() => string);
  actors: Actor[];
  /** Prefix of request ids and resource names: unique per run. */
  prefix: string;
  mix?: Partial<Record<OpName, number>>;
  /** Bytes of each pushed layer (two layers per image); default 2 KiB to 32 KiB. */
  layerBytes?: [number, number];
  /** Pause after a failed request (default 50 ms). */
  backoffMs?: number;
  timeoutMs?: number;
}

export class Workload {
  readonly records: OpRecord[] = [];
  private readonly states: ActorState[];
  private readonly started = performance.now();
  private seq = 0;
  private stopped = false;
  private readonly weights: [OpName, number][];

  constructor(private readonly opts: WorkloadOptions) {
    this.states = opts.actors.map((actor) => ({ actor, images: [], namespaces: [], tokens: [] }));
    const mix = { ...DEFAULT_MIX, ...opts.mix };
    this.weights = OPS.map((op) => [op, mix[op] ?? 0] as [OpName, number]).filter(([, w]) => w > 0);
  }

  /** ms since the workload started (the time base of records' `at`). */
  elapsed(): number {
    return performance.now() - this.started;
  }

  private base(): string {
    return typeof this.opts.base === "function" ? this.opts.base() : this.opts.base;
  }

  stop(): void {
    this.stopped = true;
  }

  /**
   * Run `concurrency` loops until `durationMs` passed, `maxOps` were sent, or stop(). With
   * `ratePerSecond`, operations start on a fixed schedule (open loop, as independent clients
   * would send them) as long as a loop is free; otherwise each loop sends back to back.
   */
  async run(opts: {
    concurrency: number;
    durationMs: number;
    maxOps: number;
    ratePerSecond?: number;
  }): Promise<void> {
    const t0 = performance.now();
    const deadline = t0 + opts.durationMs;
    let sent = 0;
    const loop = async () => {
      while (!this.stopped && performance.now() < deadline && sent < opts.maxOps) {
        const slot = sent++;
        if (opts.ratePerSecond) {
          const due = t0 + (slot * 1000) / opts.ratePerSecond;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
          if (this.stopped) return;
          await this.one();
          continue;
        }
        const record = await this.one();
        if (!record.ok) await sleep(this.opts.backoffMs ?? 50);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, loop));
  }

  private pick(): OpName {
    const total = this.weights.reduce((s, [, w]) => s + w, 0);
    let r = Math.random() * total;
    for (const [op, w] of this.weights) {
      r -= w;
      if (r < 0) return op;
    }
    return this.weights[0]![0];
  }

  /** One request of a random operation by a random actor. */
  async one(): Promise<OpRecord> {
    const state = this.states[randomInt(this.states.length)]!;
    let op = this.pick();
    // Operations on something acknowledged fall back to creating it when there is none yet.
    if (op === "pull" && state.images.length === 0) op = "push";
    if (op === "namespace.delete" && state.namespaces.length === 0) op = "namespace.create";
    if (op === "registrytoken.delete" && state.tokens.length === 0) op = "registrytoken.create";
    const n = ++this.seq;
    const requestId = `${this.opts.prefix}-${n}`;
    const t0 = performance.now();
    let status = 0;
    let error: string | undefined;
    const audited: { status?: number } = {};
    try {
      status = await this.send(state, op, n, requestId, audited);
    } catch (e) {
      if (e instanceof HttpError) status = e.status;
      else if (e instanceof IntegrityError) status = -1;
      error = e instanceof Error ? e.message : String(e);
      // The server could not learn whether its commit went through: an answer of "unknown".
      if (e instanceof HttpError && IN_DOUBT.test(e.body) && audited.status === e.status) {
        audited.status = 0;
      }
    }
    const record: OpRecord = {
      op,
      actor: state.actor.name,
      requestId,
      status,
      ok: status >= 200 && status < 300,
      ...(audited.status !== undefined ? { audited: audited.status } : {}),
      ms: performance.now() - t0,
      at: t0 - this.started,
      ...(error !== undefined ? { error: error.slice(0, 300) } : {}),
    };
    this.records.push(record);
    return record;
  }

  private async send(
    state: ActorState,
    op: OpName,
    n: number,
    requestId: string,
    audited: { status?: number },
  ) {
    const base = this.base();
    const { actor } = state;
    const timeoutMs = this.opts.timeoutMs ?? 60_000;
    switch (op) {
      case "push": {
        const [lo, hi] = this.opts.layerBytes ?? [2048, 32_768];
        const image = randomImage([randomInt(lo, hi + 1), randomInt(lo, hi + 1)]);
        const repository = `${actor.namespace}/app${n % 5}`;
        const tag = `${this.opts.prefix}-${n}`;
        await pushImage(base, repository, tag, image, {
          auth: basic("iamapikey", actor.apiKey),
          requestId,
          timeoutMs,
          audited,
        });
        state.images.push({ repository, tag });
        return 201;
      }
      case "pull": {
        const image = state.images[randomInt(state.images.length)]!;
        await pullImage(base, image.repository, image.tag, {
          auth: basic("iamapikey", actor.apiKey),
          requestId,
          timeoutMs,
          audited,
        });
        return 200;
      }
      case "namespace.create": {
        const name = `${this.opts.prefix.slice(0, 12)}x${n}`.toLowerCase();
        const status = await trpc(base, actor.apiKey, "namespace.create", { name }, requestId, {
          audited,
        });
        state.namespaces.push(name);
        return status;
      }
      case "namespace.delete": {
        // Taken off the list first: a namespace is deleted at most once, answered or not.
        const name = state.namespaces.splice(randomInt(state.namespaces.length), 1)[0]!;
        return trpc(base, actor.apiKey, "namespace.delete", { name }, requestId, { audited });
      }
      case "registrytoken.create": {
        const created = { id: "" };
        const status = await trpc(
          base,
          actor.apiKey,
          "registrytoken.create",
          { description: requestId },
          requestId,
          { audited, out: created },
        );
        state.tokens.push(created.id);
        return status;
      }
      case "registrytoken.delete": {
        const id = state.tokens.splice(randomInt(state.tokens.length), 1)[0]!;
        return trpc(base, actor.apiKey, "registrytoken.delete", { id }, requestId, { audited });
      }
      case "namespace.list":
      case "image.list":
      case "quota.get":
        return trpc(base, actor.apiKey, op, undefined, requestId, { audited, kind: "query" });
    }
  }

  /** Counts, errors and latency percentiles per operation. */
  summary(): Record<string, OpSummary> {
    const out: Record<string, OpSummary> = {};
    for (const op of OPS) {
      const rs = this.records.filter((r) => r.op === op);
      if (rs.length === 0) continue;
      const ok = rs.filter((r) => r.ok).map((r) => r.ms);
      const errors: Record<string, number> = {};
      for (const r of rs) if (!r.ok) errors[r.status] = (errors[r.status] ?? 0) + 1;
      out[op] = {
        count: rs.length,
        ok: ok.length,
        errors,
        p50: percentile(ok, 50),
        p99: percentile(ok, 99),
      };
    }
    return out;
  }
}

export interface OpSummary {
  count: number;
  ok: number;
  errors: Record<string, number>;
  p50: number;
  p99: number;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** A tRPC call over plain HTTP; returns the status (the answer's `id` into `opts.out` if asked). */
export async function trpc(
  base: string,
  apiKey: string,
  path: string,
  input: unknown,
  requestId: string,
  opts: {
    out?: { id: string };
    kind?: "query" | "mutation";
    audited?: { status?: number };
  } = {},
): Promise<number> {
  const kind = opts.kind ?? "mutation";
  const out = opts.out;
  if (opts.audited) opts.audited.status = 0;
  const query =
    kind === "query" && input !== undefined
      ? `?input=${encodeURIComponent(JSON.stringify(input))}`
      : "";
  const res = await fetch(`${base}/trpc/${path}${query}`, {
    method: kind === "query" ? "GET" : "POST",
    headers: {
      authorization: `Bearer ${apiKey}`,
      "x-request-id": requestId,
      "user-agent": "berth-fault/1.0",
      ...(kind === "mutation" ? { "content-type": "application/json" } : {}),
    },
    ...(kind === "mutation" ? { body: JSON.stringify(input ?? null) } : {}),
    signal: AbortSignal.timeout(60_000),
  });
  if (opts.audited) opts.audited.status = res.status;
  const text = await res.text();
  if (res.status !== 200) throw new HttpError(res.status, text, path);
  if (out) out.id = (JSON.parse(text) as { result: { data: { id: string } } }).result.data.id;
  return res.status;
}
