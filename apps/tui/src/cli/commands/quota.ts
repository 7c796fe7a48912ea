import { formatBytes, formatMb } from "../../format";
import { UsageError } from "../errors";
import { str } from "../input";
import { pairsOutput, renderTable } from "../table";
import type { Command } from "../types";

/** `--storage 1024`, or `unlimited` to clear the user quota. */
function quotaMb(value: string | undefined, name: string): number | null | undefined {
  if (value === undefined) return undefined;
  if (/^(unlimited|none)$/i.test(value)) return null;
  if (!/^\d+$/.test(value)) {
    throw new UsageError(`--${name} takes a whole number of MB, or "unlimited"`);
  }
  return Number(value);
}

/** Quotas and the pricing plan of the region. */
export const quotaCommands: Command[] = [
  {
    name: "quota",
    args: "",
    summary: "show storage and pull-traffic quotas and usage",
    example: "berth quota",
    max: 0,
    async run(ctx) {
      const q = await ctx.client().quota.get.query();
      const rows = [
        {
          quota: "storage",
          limit: q.limits.storageBytes,
          used: q.usage.storageBytes,
          set: q.quotas.storageMb,
        },
        {
          quota: `pull traffic (${q.month})`,
          limit: q.limits.pullTrafficBytes,
          used: q.usage.pullTrafficBytes,
          set: q.quotas.trafficMb,
        },
      ];
      const table = renderTable<(typeof rows)[number]>(
        [
          { header: "QUOTA", value: (r) => r.quota },
          {
            header: "LIMIT",
            value: (r) => (r.limit === null ? "unlimited" : formatBytes(r.limit)),
          },
          { header: "USED", value: (r) => formatBytes(r.used) },
          { header: "YOUR QUOTA", value: (r) => formatMb(r.set) },
        ],
        rows,
      );
      return { data: q, text: `Region ${q.region}, plan ${q.plan}\n\n${table}` };
    },
  },
  {
    name: "quota-set",
    args: "",
    summary: "set quotas in MB (unlimited clears one)",
    example: "berth quota-set --storage 1024 --traffic unlimited",
    options: {
      storage: { type: "string", help: "storage quota in MB" },
      traffic: { type: "string", help: "monthly pull-traffic quota in MB" },
    },
    max: 0,
    async run(ctx) {
      const storageMb = quotaMb(str(ctx, "storage"), "storage");
      const trafficMb = quotaMb(str(ctx, "traffic"), "traffic");
      if (storageMb === undefined && trafficMb === undefined) {
        throw new UsageError("give --storage MB, --traffic MB, or both");
      }
      const q = await ctx.client().quota.set.mutate({
        ...(storageMb !== undefined ? { storageMb } : {}),
        ...(trafficMb !== undefined ? { trafficMb } : {}),
      });
      return {
        data: q,
        text: `Quotas of region ${q.region}: storage ${formatMb(q.quotas.storageMb)}, pull traffic ${formatMb(q.quotas.trafficMb)}.`,
      };
    },
  },
  {
    name: "plan",
    args: "",
    summary: "show the pricing plan of the region",
    example: "berth plan",
    max: 0,
    async run(ctx) {
      const p = await ctx.client().plan.get.query();
      return pairsOutput(p, [
        ["Region", p.region],
        ["Plan", p.plan],
        ["Storage cap", p.caps.storageBytes === null ? "none" : formatBytes(p.caps.storageBytes)],
        [
          "Traffic cap",
          p.caps.pullTrafficBytes === null
            ? "none"
            : `${formatBytes(p.caps.pullTrafficBytes)} a month`,
        ],
      ]);
    },
  },
  {
    name: "plan-upgrade",
    args: "[PLAN]",
    summary: "upgrade the plan of the region to standard",
    example: "berth plan-upgrade standard",
    max: 1,
    async run(ctx) {
      const plan = ctx.args[0] ?? "standard";
      const p = await ctx.client().plan.set.mutate({ plan: plan as "standard" });
      return {
        data: p,
        text: p.changed
          ? `Plan of region ${p.region} upgraded to ${p.plan}.`
          : `Plan of region ${p.region} is already ${p.plan}.`,
      };
    },
  },
];
