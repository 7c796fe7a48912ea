import { formatTime, shortDigest } from "../../format";
import { UsageError } from "../errors";
import { confirm, flag, str } from "../input";
import { pairsOutput, renderTable } from "../table";
import type { Command, CommandContext, OptionSpec } from "../types";

// Retention policies of namespaces, as `ibmcloud cr retention-policy-set` / `retention-run`:
// keep the N newest images of each repository, untagged ones optionally, never one pulled
// lately nor the newest; what a run removes goes to the trash (`berth trash-list`).

const POLICY_OPTIONS: Record<string, OptionSpec> = {
  images: { type: "string", help: "images to keep in each repository, newest first" },
  "retain-untagged": { type: "boolean", help: "keep every untagged image (default: remove them)" },
  "keep-pulled-days": {
    type: "string",
    help: "never remove an image pulled within this many days (default 30; 0: pulls do not count)",
  },
};

/** A whole number option; the registry says which values it takes. */
function whole(ctx: CommandContext, name: string): number | undefined {
  const value = str(ctx, name);
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value))
    throw new UsageError(`--${name} takes a whole number, not "${value}"`);
  return Number(value);
}

/** The policy the options describe, or undefined when --images is absent. */
function policyOf(ctx: CommandContext) {
  const imagesPerRepository = whole(ctx, "images");
  const keepPulledWithinDays = whole(ctx, "keep-pulled-days");
  if (imagesPerRepository === undefined) {
    if (keepPulledWithinDays !== undefined || flag(ctx, "retain-untagged")) {
      throw new UsageError("give --images N with --retain-untagged or --keep-pulled-days");
    }
    return undefined;
  }
  return {
    imagesPerRepository,
    keepUntagged: flag(ctx, "retain-untagged"),
    ...(keepPulledWithinDays !== undefined ? { keepPulledWithinDays } : {}),
  };
}

interface Listed {
  repository: string;
  digest: string;
  tags: string[];
  pushedAt: string;
  reason: string;
}

function imageTable(rows: Listed[]): string {
  return renderTable<Listed>(
    [
      { header: "REPOSITORY", value: (r) => r.repository },
      { header: "DIGEST", value: (r) => shortDigest(r.digest) },
      { header: "TAGS", value: (r) => (r.tags.length ? r.tags.join(",") : "<none>") },
      { header: "PUSHED", value: (r) => formatTime(r.pushedAt) },
      { header: "WHY", value: (r) => r.reason },
    ],
    rows,
  );
}

const describePolicy = (p: {
  imagesPerRepository: number;
  keepUntagged: boolean;
  keepPulledWithinDays: number;
}) =>
  `keep ${p.imagesPerRepository} per repository, ${p.keepUntagged ? "keep" : "remove"} untagged, keep pulled within ${p.keepPulledWithinDays} days`;

export const retentionCommands: Command[] = [
  {
    name: "retention-policy-set",
    args: "NAMESPACE",
    summary: "set the retention policy of a namespace (applied by daily runs)",
    example: "berth retention-policy-set birds --images 10 --retain-untagged",
    options: POLICY_OPTIONS,
    min: 1,
    max: 1,
    async run(ctx) {
      const policy = policyOf(ctx);
      if (!policy) throw new UsageError("give --images N: the images to keep in each repository");
      const r = await ctx.client().retention.set.mutate({ namespace: ctx.args[0]!, ...policy });
      return { data: r, text: `Retention policy of ${r.namespace}: ${describePolicy(r.policy)}.` };
    },
  },
  {
    name: "retention-policy-get",
    args: "NAMESPACE",
    summary: "show the retention policy of a namespace",
    example: "berth retention-policy-get birds",
    min: 1,
    max: 1,
    async run(ctx) {
      const r = await ctx.client().retention.get.query({ namespace: ctx.args[0]! });
      if (!r.policy) return { data: r, text: `Namespace ${r.namespace} has no retention policy.` };
      return pairsOutput(r, [
        ["Namespace", r.namespace],
        ["Images per repository", String(r.policy.imagesPerRepository)],
        ["Untagged images", r.policy.keepUntagged ? "kept" : "removed"],
        ["Keep pulled within", `${r.policy.keepPulledWithinDays} days`],
        ["Last run", r.policy.lastRunAt ? formatTime(r.policy.lastRunAt) : "never"],
      ]);
    },
  },
  {
    name: "retention-analyze",
    args: "NAMESPACE",
    summary: "list what a retention run would remove now, without removing anything",
    example: "berth retention-analyze birds --images 5",
    options: POLICY_OPTIONS,
    min: 1,
    max: 1,
    async run(ctx) {
      const policy = policyOf(ctx);
      const r = await ctx.client().retention.analyze.query({
        namespace: ctx.args[0]!,
        ...(policy ? { policy } : {}),
      });
      const head = `Policy: ${describePolicy(r.policy)}. A run would remove ${r.remove.length} image(s) and keep ${r.keep.length}.`;
      return { data: r, text: r.remove.length ? `${head}\n\n${imageTable(r.remove)}` : head };
    },
  },
  {
    name: "retention-run",
    args: "NAMESPACE",
    summary: "move to the trash now what the namespace's retention policy does not keep",
    example: "berth retention-run birds --force",
    options: {
      ...POLICY_OPTIONS,
      force: { type: "boolean", short: "f", help: "do not ask for confirmation" },
    },
    min: 1,
    max: 1,
    async run(ctx) {
      const namespace = ctx.args[0]!;
      const policy = policyOf(ctx);
      const input = { namespace, ...(policy ? { policy } : {}) };
      const client = ctx.client();
      if (!flag(ctx, "force")) {
        const plan = await client.retention.analyze.query(input);
        if (plan.remove.length === 0) {
          return { data: plan, text: `Nothing to remove in ${namespace}.` };
        }
        ctx.io.stderr.write(`${imageTable(plan.remove)}\n`);
        await confirm(ctx, `Move these ${plan.remove.length} image(s) to the trash?`);
      }
      const r = await client.retention.run.mutate(input);
      const lines = [
        `Retention run of ${r.namespace}: ${r.removed.length} image(s) moved to the trash, ${r.kept} kept.`,
      ];
      if (r.removed.length) lines.push("", imageTable(r.removed));
      if (r.skipped.length)
        lines.push("", `${r.skipped.length} image(s) changed since planning and were kept.`);
      for (const f of r.failed) {
        lines.push(`failed: ${f.repository}@${f.digest}: ${f.error.message}`);
      }
      return { data: r, text: lines.join("\n"), ...(r.failed.length ? { exitCode: 1 } : {}) };
    },
  },
];
