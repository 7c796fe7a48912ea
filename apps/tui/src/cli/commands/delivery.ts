import { formatDuration, formatTime, shortAction } from "../../format";
import { UsageError } from "../errors";
import { flag, str } from "../input";
import { renderTable } from "../table";
import type { Command } from "../types";

const destinationOption = {
  destination: {
    type: "string" as const,
    help: "whose dead letters: tracker (default) or a destination of BERTH_DESTINATIONS",
  },
};
const destinationOf = (ctx: Parameters<Command["run"]>[0]) => {
  const d = str(ctx, "destination");
  return d ? { destination: d } : {};
};

/** The outbox as the account sees it: what is waiting, what died, sending it again. */
export const deliveryCommands: Command[] = [
  {
    name: "delivery-status",
    args: "",
    summary: "pending and dead events, delivery lag, per destination",
    example: "berth delivery-status",
    max: 0,
    async run(ctx) {
      const s = await ctx.client().delivery.status.query();
      const rows = s.destinations;
      return {
        data: s,
        text: renderTable<(typeof rows)[number]>(
          [
            { header: "DESTINATION", value: (d) => d.destination },
            { header: "PENDING", value: (d) => d.pending, align: "right" },
            { header: "DEAD", value: (d) => d.dead, align: "right" },
            { header: "LAG", value: (d) => (d.pending > 0 ? formatDuration(d.lagMs) : "none") },
          ],
          rows,
        ),
      };
    },
  },
  {
    name: "delivery-dead",
    args: "",
    summary: "list dead letters with their reasons (--destination: another's than the tracker's)",
    example: "berth delivery-dead -o json",
    max: 0,
    options: destinationOption,
    async run(ctx) {
      const rows = await ctx.client().delivery.dead.query(destinationOf(ctx));
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
    example: "berth delivery-redrive --all",
    options: {
      all: { type: "boolean", help: "every dead event of the account" },
      ...destinationOption,
    },
    async run(ctx) {
      if (ctx.args.length === 0 && !flag(ctx, "all")) {
        throw new UsageError("give the event ids to redrive, or --all");
      }
      const r = await ctx.client().delivery.redrive.mutate({
        ...(ctx.args.length > 0 ? { ids: ctx.args } : {}),
        ...destinationOf(ctx),
      });
      return { data: r, text: `${r.redriven} event(s) sent back for delivery.` };
    },
  },
];
