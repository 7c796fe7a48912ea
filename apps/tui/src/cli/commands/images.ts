import { formatBytes, formatTime, shortDigest } from "../../format";
import { flag, str } from "../input";
import { PAGE_SIZE_OPTION, printPages } from "../pages";
import { bulkOutput, renderPairs, renderTable } from "../table";
import type { Command } from "../types";

export const imageCommands: Command[] = [
  {
    name: "image-list",
    args: "",
    summary: "list tagged images",
    example: "berth image-list --namespace birds",
    options: {
      namespace: { type: "string", help: "only this namespace" },
      repository: { type: "string", help: "only this repository (ns/repo)" },
      quiet: { type: "boolean", short: "q", help: "image names only" },
      ...PAGE_SIZE_OPTION,
    },
    max: 0,
    run(ctx) {
      const namespace = str(ctx, "namespace");
      const repository = str(ctx, "repository");
      const client = ctx.client();
      const fetch = (page: { limit?: number; cursor?: string }) =>
        client.image.list.query({
          ...(namespace ? { namespace } : {}),
          ...(repository ? { repository } : {}),
          ...page,
        });
      if (flag(ctx, "quiet")) {
        return printPages(ctx, fetch, { line: (r) => r.image, json: (r) => r.image });
      }
      return printPages(ctx, fetch, {
        columns: [
          { header: "REPOSITORY", value: (r) => r.repository },
          { header: "TAG", value: (r) => r.tag },
          { header: "DIGEST", value: (r) => shortDigest(r.digest) },
          { header: "NAMESPACE", value: (r) => r.namespace },
          { header: "SIZE", value: (r) => formatBytes(r.size), align: "right" },
          { header: "PUSHED", value: (r) => formatTime(r.pushedAt) },
        ],
      });
    },
  },
  {
    name: "image-inspect",
    args: "IMAGE...",
    summary: "show manifest, config and layers of images",
    example: "berth image-inspect birds/robin:1.0",
    min: 1,
    async run(ctx) {
      const client = ctx.client();
      const details = [];
      for (const image of ctx.args) details.push(await client.image.inspect.query({ image }));
      const text = details
        .map((d) => {
          const config = (d.config ?? {}) as {
            architecture?: string;
            os?: string;
            created?: string;
            config?: { Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string };
          };
          const head = renderPairs([
            ["Image", d.image],
            ["Digest", d.digest],
            ["Media type", d.mediaType],
            ["Tags", d.tags.join(", ")],
            ["Size", `${formatBytes(d.size)} (${d.size} bytes)`],
            ["Pushed", formatTime(d.pushedAt)],
            ["Platform", config.os ? `${config.os}/${config.architecture ?? "?"}` : undefined],
            ["Created", config.created],
            ["Entrypoint", config.config?.Entrypoint?.join(" ")],
            ["Cmd", config.config?.Cmd?.join(" ")],
          ]);
          const layers = renderTable<(typeof d.layers)[number]>(
            [
              { header: "LAYER", value: (l) => l.digest },
              { header: "SIZE", value: (l) => formatBytes(l.size), align: "right" },
            ],
            d.layers,
          );
          return `${head}\n\n${layers}`;
        })
        .join("\n\n");
      return { data: details, text };
    },
  },
  {
    name: "image-tag",
    args: "SOURCE TARGET",
    summary: "add tag TARGET (ns/repo:tag) to image SOURCE",
    example: "berth image-tag birds/robin:1.0 birds/robin:stable",
    min: 2,
    max: 2,
    async run(ctx) {
      const r = await ctx.client().image.tag.mutate({ source: ctx.args[0]!, target: ctx.args[1]! });
      return { data: r, text: `Tagged ${r.source} as ${r.target} (${shortDigest(r.digest)}).` };
    },
  },
  {
    name: "image-untag",
    args: "IMAGE...",
    summary: "remove tags, keeping the images",
    example: "berth image-untag birds/robin:stable",
    min: 1,
    async run(ctx) {
      const r = await ctx.client().image.untag.mutate({ images: ctx.args });
      return bulkOutput("UNTAGGED", r.results, r);
    },
  },
  {
    name: "image-rm",
    args: "IMAGE...",
    summary: "delete images with all their tags",
    example: "berth image-rm birds/robin:1.0 birds/wren:2",
    min: 1,
    async run(ctx) {
      const r = await ctx.client().image.rm.mutate({ images: ctx.args });
      return bulkOutput("REMOVED", r.results, r);
    },
  },
];
