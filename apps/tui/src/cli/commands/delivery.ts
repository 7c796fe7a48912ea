import { formatDuration, formatTime, shortAction } from "../../format";
import { UsageError } from "../errors";
import { flag } from "../input";
import { renderPairs, renderTable } from "../table";
import type { Command } from "../types";

/** The outbox as the account sees it: what is waiting, what died, sending it again. */
export const deliveryCommands: Command[] = [
  {
    name: "delivery-status",
    args: "",
    summary: "pending and dead events, delivery lag",
    max: 0,
    async run(ctx) {
      const s = await ctx.client().delivery.status.query();
      return {
        data: s,
        text: renderPairs([
          ["Pending", s.pending],
          ["Dead", s.dead],
          ["Lag", s.pending > 0 ? formatDuration(s.lagMs) : "none"],
        ]),
      };
    },
  },
  {
    name: "delivery-dead",
    args: "",
    summary: "list dead letters with their reasons",
    max: 0,
    async run(ctx) {
      const rows = await ctx.client().delivery.dead.query();
      return {
        data: rows,
        text: renderTable<(typeof rows)[number]>(
          [
            { header: "EVENT ID", value: (r) => r.id },
            { header: "ACTION", value: (r) => shortAction(r.action) },
            { header: "ATTEMPTS", value: (r) => r.attempts, align: "right" },
            { header: "DEAD SINCE", value: (r) => formatTime(r.deadAt) },
            { header: "REASON", value: (r) => r.reason },
          ],
          rows,
        ),
      };
    },
  },
  {
    name: "delivery-redrive",
    args: "[EVENT_ID...]",
    summary: "send dead events again (--all: every one)",
    options: { all: { type: "boolean", help: "every dead event of the account" } },
    async run(ctx) {
      if (ctx.args.length === 0 && !flag(ctx, "all")) {
        throw new UsageError("give the event ids to redrive, or --all");
      }
      const r = await ctx
        .client()
        .delivery.redrive.mutate(ctx.args.length > 0 ? { ids: ctx.args } : {});
      return { data: r, text: `${r.redriven} event(s) sent back for delivery.` };
    },
  },
];
