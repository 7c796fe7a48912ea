import { formatTime } from "../../format";
import { confirm, flag, str } from "../input";
import { PAGE_SIZE_OPTION, printPages } from "../pages";
import { bulkOutput, pairsOutput, renderPairs } from "../table";
import type { Command } from "../types";

/** Registry tokens (the credentials of skopeo, podman and docker). */
export const tokenCommands: Command[] = [
  {
    name: "token-add",
    args: "",
    summary: "create a registry token (secret shown once)",
    example: 'berth token-add --readwrite --description "ci pipeline"',
    options: {
      readwrite: { type: "boolean", help: "allow pushes too (default read-only)" },
      "non-expiring": { type: "boolean", help: "never expire (default: 24 hours)" },
      description: { type: "string", help: "what the token is for" },
    },
    max: 0,
    async run(ctx) {
      const description = str(ctx, "description");
      const t = await ctx.client().registrytoken.create.mutate({
        access: flag(ctx, "readwrite") ? "readwrite" : "read",
        nonExpiring: flag(ctx, "non-expiring"),
        ...(description !== undefined ? { description } : {}),
      });
      return {
        data: t,
        text: `${renderPairs([
          ["Token ID", t.id],
          ["Username", t.username],
          ["Secret", t.secret],
          ["Access", t.access],
          ["Expires", t.expiresAt ? formatTime(t.expiresAt) : "never"],
          ["Description", t.description],
        ])}\n\nKeep the secret now: it cannot be shown again.`,
      };
    },
  },
  {
    name: "token-list",
    args: "",
    summary: "list registry tokens",
    example: "berth token-list",
    options: PAGE_SIZE_OPTION,
    max: 0,
    run(ctx) {
      const client = ctx.client();
      return printPages(ctx, (page) => client.registrytoken.list.query(page), {
        columns: [
          { header: "TOKEN ID", value: (r) => r.id },
          { header: "ACCESS", value: (r) => r.access },
          {
            header: "EXPIRES",
            value: (r) => (r.expired ? "expired" : r.expiresAt ? formatTime(r.expiresAt) : "never"),
          },
          { header: "LAST USED", value: (r) => formatTime(r.lastUsedAt) },
          { header: "DESCRIPTION", value: (r) => r.description },
        ],
      });
    },
  },
  {
    name: "token-get",
    args: "TOKEN_ID",
    summary: "show one registry token",
    example: "berth token-get 01a2496b-6c0a-739e-b5fd-261b09f72b57",
    min: 1,
    max: 1,
    async run(ctx) {
      const t = await ctx.client().registrytoken.get.query({ id: ctx.args[0]! });
      return pairsOutput(t, [
        ["Token ID", t.id],
        ["Region", t.region],
        ["Access", t.access],
        ["Description", t.description],
        ["Expires", t.expired ? "expired" : t.expiresAt ? formatTime(t.expiresAt) : "never"],
        ["Created", formatTime(t.createdAt)],
        ["Created by", t.createdBy],
        ["Last used", formatTime(t.lastUsedAt)],
      ]);
    },
  },
  {
    name: "token-rm",
    args: "TOKEN_ID...",
    summary: "delete registry tokens",
    example: "berth token-rm 01a2496b-6c0a-739e-b5fd-261b09f72b57 --force",
    options: { force: { type: "boolean", short: "f", help: "do not ask for confirmation" } },
    min: 1,
    async run(ctx) {
      const client = ctx.client();
      const ids = ctx.args;
      await confirm(
        ctx,
        `Delete ${ids.length === 1 ? "registry token" : `${ids.length} registry tokens`} ${ids.join(", ")}?`,
      );
      if (ids.length === 1) {
        const r = await client.registrytoken.delete.mutate({ id: ids[0]! });
        return bulkOutput("REMOVED", [{ target: r.id, ok: true }], r);
      }
      const r = await client.registrytokens.delete.mutate({ ids });
      return bulkOutput("REMOVED", r.results, r);
    },
  },
];
