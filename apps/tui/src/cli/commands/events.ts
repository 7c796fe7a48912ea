import { type EventLine, errorMessage, type TailEvent, untracked } from "../../api";
import { formatSeconds, fullAction, shortAction } from "../../format";
import { UsageError } from "../errors";
import { flag, list, str } from "../input";
import { type Column, renderTable } from "../table";
import type { Command, CommandContext, CommandResult } from "../types";

const eventColumns: Column<EventLine>[] = [
  { header: "TIME", value: (l) => formatSeconds(l._ts) },
  { header: "ACTION", value: (l) => shortAction(l.event.action) },
  { header: "OUTCOME", value: (l) => l.event.outcome },
  { header: "SEVERITY", value: (l) => l.event.severity },
  { header: "TARGET", value: (l) => l.event.target.name },
  { header: "INITIATOR", value: (l) => l.event.initiator.name },
];

function eventFilters(ctx: CommandContext) {
  const region = str(ctx, "tracker-region");
  const query = str(ctx, "query");
  const initiator = str(ctx, "initiator");
  const target = str(ctx, "target");
  const action = list(ctx, "action")?.map(fullAction);
  const outcome = list(ctx, "outcome");
  const severity = list(ctx, "severity");
  return {
    ...(region ? { region } : {}),
    ...(query ? { query } : {}),
    ...(initiator ? { initiator } : {}),
    ...(target ? { target } : {}),
    ...(action ? { action } : {}),
    ...(outcome ? { outcome: outcome as ("success" | "failure" | "pending")[] } : {}),
    ...(severity ? { severity: severity as ("normal" | "warning" | "critical")[] } : {}),
  };
}

/** Event ids a follow remembers, to drop the lines a resumed tail sends again. */
const SEEN_IDS = 10_000;

/**
 * `events --follow`: lines as they arrive until interrupted; JSON output is one event a line.
 * When the server or the tracker restarts, the client reconnects by itself and the tail
 * resumes after the last line printed; each event is printed once.
 */
async function followEvents(ctx: CommandContext): Promise<CommandResult | undefined> {
  const client = ctx.client();
  const out = ctx.io.stdout;
  const err = ctx.io.stderr;
  let headerShown = false;
  let cut = false;
  const seen = new Set<string>();
  const widths = [19, 28, 8, 9, 30];
  const row = (cells: string[]) =>
    cells
      .map((c, i) => (i < widths.length ? c.padEnd(widths[i]!) : c))
      .join("   ")
      .trimEnd();
  await new Promise<void>((resolve, reject) => {
    const sub = client.events.tail.subscribe(eventFilters(ctx), {
      onConnectionStateChange: (s) => {
        if (s.state === "connecting" && s.error && !cut) {
          cut = true;
          err.write(`berth: live tail cut (${errorMessage(s.error)}); reconnecting…\n`);
        }
      },
      onData: (tracked: TailEvent) => {
        const m = untracked(tracked);
        if (m.kind === "ready") {
          err.write(
            cut
              ? `resumed following events of region ${m.region}\n`
              : `following events of region ${m.region} (Ctrl-C to stop)\n`,
          );
          cut = false;
          if (!ctx.json && !headerShown) {
            out.write(`${row(eventColumns.map((c) => c.header))}\n`);
            headerShown = true;
          }
          return;
        }
        if (seen.has(m.line._id)) return;
        seen.add(m.line._id);
        if (seen.size > SEEN_IDS) seen.delete(seen.values().next().value!);
        if (ctx.json) out.write(`${JSON.stringify(m.line)}\n`);
        else out.write(`${row(eventColumns.map((c) => String(c.value(m.line) ?? "-")))}\n`);
      },
      onError: (error) => {
        sub.unsubscribe();
        reject(error);
      },
      onComplete: () => resolve(),
    });
    const stop = () => {
      sub.unsubscribe();
      resolve();
    };
    if (ctx.io.signal?.aborted) stop();
    ctx.io.signal?.addEventListener("abort", stop, { once: true });
  });
  return undefined;
}

export const eventCommands: Command[] = [
  {
    name: "events",
    args: "",
    summary: "query the account's events (--follow: live)",
    example: "berth events --follow --outcome failure",
    options: {
      "tracker-region": {
        type: "string",
        help: "tracker region (default: where this region's events go)",
      },
      action: {
        type: "string",
        multiple: true,
        help: "actions, e.g. namespace.create (repeat or comma-separate)",
      },
      outcome: { type: "string", multiple: true, help: "success, failure, pending" },
      severity: { type: "string", multiple: true, help: "normal, warning, critical" },
      initiator: { type: "string", help: "initiator id or name" },
      target: { type: "string", help: "target name or CRN; a trailing * matches a prefix" },
      query: { type: "string", help: "free text" },
      from: { type: "string", help: "oldest time (ISO-8601 or Unix time)" },
      to: { type: "string", help: "newest time" },
      size: { type: "string", help: "events per page (default 50, at most 1000)" },
      page: { type: "string", help: "the pagination id a previous page printed" },
      follow: { type: "boolean", short: "f", help: "print new events as they arrive" },
    },
    max: 0,
    async run(ctx) {
      if (flag(ctx, "follow")) return followEvents(ctx);
      const sizeText = str(ctx, "size");
      if (sizeText !== undefined && !/^\d+$/.test(sizeText)) {
        throw new UsageError("--size takes a number of events");
      }
      const from = str(ctx, "from");
      const to = str(ctx, "to");
      const page = str(ctx, "page");
      const result = await ctx.client().events.query.query({
        ...eventFilters(ctx),
        ...(from ? { from } : {}),
        ...(to ? { to } : {}),
        ...(sizeText ? { size: Number(sizeText) } : {}),
        ...(page ? { paginationId: page } : {}),
      });
      if (result.paginationId && !ctx.json) {
        ctx.io.stderr.write(`more events: berth events --page ${result.paginationId}\n`);
      }
      return {
        data: result,
        text: renderTable(eventColumns, result.lines),
      };
    },
  },
];
