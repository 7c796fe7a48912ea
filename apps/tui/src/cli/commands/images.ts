import type { BerthClient, BulkResult } from "../../api";
import { formatBytes, formatTime, shortDigest } from "../../format";
import { eachArg, flag, SCOPE_OPTIONS, scopeOf } from "../input";
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
      ...SCOPE_OPTIONS,
      quiet: { type: "boolean", short: "q", help: "image names only" },
      ...PAGE_SIZE_OPTION,
    },
    max: 0,
    run(ctx) {
      const scope = scopeOf(ctx);
      const client = ctx.client();
      const fetch = (page: { limit?: number; cursor?: string }) =>
        client.image.list.query({ ...scope, ...page });
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
      const details = await eachArg(ctx, (image) => client.image.inspect.query({ image }));
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
  onImages(
    {
      name: "image-untag",
      summary: "remove tags, keeping the images",
      example: "berth image-untag birds/robin:stable",
    },
    "UNTAGGED",
    (client, images) => client.image.untag.mutate({ images }),
  ),
  onImages(
    {
      name: "image-rm",
      summary: "delete images with all their tags",
      example: "berth image-rm birds/robin:1.0 birds/wren:2",
    },
    "REMOVED",
    (client, images) => client.image.rm.mutate({ images }),
  ),
];

/** A bulk verb on the images named: one call with all of them, a row a result (`verb` or FAILED). */
function onImages(
  about: Pick<Command, "name" | "summary" | "example">,
  verb: string,
  call: (client: BerthClient, images: string[]) => Promise<{ results: BulkResult[] }>,
): Command {
  return {
    ...about,
    args: "IMAGE...",
    min: 1,
    async run(ctx) {
      const r = await call(ctx.client(), ctx.args);
      return bulkOutput(verb, r.results, r);
    },
  };
}
