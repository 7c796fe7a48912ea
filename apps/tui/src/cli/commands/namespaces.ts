import { formatBytes, formatTime } from "../../format";
import { confirm } from "../input";
import { PAGE_SIZE_OPTION, printPages } from "../pages";
import type { Command } from "../types";

export const namespaceCommands: Command[] = [
  {
    name: "namespace-add",
    args: "NAME",
    summary: "add a namespace in the targeted region",
    example: "berth namespace-add birds",
    min: 1,
    max: 1,
    async run(ctx) {
      const ns = await ctx.client().namespace.create.mutate({ name: ctx.args[0]! });
      return { data: ns, text: `Namespace ${ns.name} added in region ${ns.region}.` };
    },
  },
  {
    name: "namespace-list",
    args: "",
    summary: "list the namespaces of the region",
    example: "berth namespace-list",
    options: PAGE_SIZE_OPTION,
    max: 0,
    run(ctx) {
      const client = ctx.client();
      return printPages(ctx, (page) => client.namespace.list.query(page), {
        columns: [
          { header: "NAMESPACE", value: (r) => r.name },
          { header: "REPOSITORIES", value: (r) => r.repositories, align: "right" },
          { header: "IMAGES", value: (r) => r.images, align: "right" },
          { header: "CREATED", value: (r) => formatTime(r.createdAt) },
        ],
      });
    },
  },
  {
    name: "namespace-rm",
    args: "NAME",
    summary: "delete a namespace and every image in it",
    example: "berth namespace-rm birds --force",
    options: { force: { type: "boolean", short: "f", help: "do not ask for confirmation" } },
    min: 1,
    max: 1,
    async run(ctx) {
      const name = ctx.args[0]!;
      const client = ctx.client();
      await confirm(ctx, `Delete namespace ${name} and every image in it?`);
      const r = await client.namespace.delete.mutate({ name });
      return {
        data: r,
        text: `Namespace ${r.name} removed (${r.repositories} repositories, ${r.images} images, ${formatBytes(r.releasedBytes)} released).`,
      };
    },
  },
];
