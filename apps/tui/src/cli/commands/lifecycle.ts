import { shortDigest } from "../../format";
import { UsageError } from "../errors";
import { readAll, str } from "../input";
import { bulkOutput, pairsOutput, renderTable } from "../table";
import type { Command } from "../types";

/** One image a line; blank lines and `#` comments skipped. */
function imagesIn(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** Bulk deletes, pruning untagged images, and tag immutability. */
export const lifecycleCommands: Command[] = [
  {
    name: "image-bulk-delete",
    args: "[IMAGE...]",
    summary: "delete many images into the trash in one call (--stdin: one a line)",
    example: "berth image-bulk-delete birds/robin:1.0 birds/robin:1.1 birds/wren:old",
    options: {
      stdin: { type: "boolean", help: "read the images from standard input, one a line" },
    },
    async run(ctx) {
      const images = [...ctx.args];
      if (ctx.opts.stdin === true) images.push(...imagesIn(await readAll(ctx.io.stdin)));
      if (images.length === 0) throw new UsageError("give the images to delete, or --stdin");
      const r = await ctx.client().image.bulkdelete.mutate({ images });
      return bulkOutput("DELETED", r.results, r);
    },
  },
  {
    name: "image-prune-untagged",
    args: "",
    summary: "move the untagged images of a namespace or repository to the trash",
    example: "berth image-prune-untagged --repository birds/robin",
    options: {
      namespace: { type: "string", help: "every repository of this namespace" },
      repository: { type: "string", help: "only this repository (ns/repo)" },
    },
    max: 0,
    async run(ctx) {
      const namespace = str(ctx, "namespace");
      const repository = str(ctx, "repository");
      if ((namespace === undefined) === (repository === undefined)) {
        throw new UsageError("give --namespace or --repository (one of them)");
      }
      const r = await ctx
        .client()
        .image["prune-untagged"].mutate(repository !== undefined ? { repository } : { namespace });
      const table =
        r.pruned.length === 0
          ? "No untagged images to prune."
          : renderTable<(typeof r.pruned)[number]>(
              [
                { header: "REPOSITORY", value: (p) => p.repository },
                { header: "DIGEST", value: (p) => shortDigest(p.digest) },
              ],
              r.pruned,
            );
      const more =
        r.remaining > 0 ? `\n\n${r.remaining} more untagged images remain: run it again.` : "";
      return { data: r, text: `${table}${more}` };
    },
  },
  {
    name: "immutability",
    args: "NAMESPACE",
    summary: "show where tag immutability is on in a namespace",
    example: "berth immutability birds",
    min: 1,
    max: 1,
    async run(ctx) {
      const s = await ctx.client().immutability.get.query({ namespace: ctx.args[0]! });
      return pairsOutput(s, [
        ["Namespace", s.namespace],
        ["Whole namespace", s.immutable ? "immutable" : "mutable"],
        ["Immutable repositories", s.repositories.join(", ") || undefined],
      ]);
    },
  },
  {
    name: "immutability-set",
    args: "SCOPE on|off",
    summary: "turn tag immutability on or off for a namespace or repository (ns/repo)",
    example: "berth immutability-set birds/robin on",
    min: 2,
    max: 2,
    async run(ctx) {
      const [scope, state] = ctx.args as [string, string];
      if (state !== "on" && state !== "off") {
        throw new UsageError(`the second argument is on or off, not "${state}"`);
      }
      const s = await ctx.client().immutability.set.mutate({ scope, immutable: state === "on" });
      const what = state === "on" ? "on" : "off";
      const already = s.changed ? "" : " (it already was)";
      return { data: s, text: `Tag immutability is ${what} for ${scope}${already}.` };
    },
  },
];
