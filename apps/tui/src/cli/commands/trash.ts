import type { BerthClient, Out } from "../../api";
import { formatBytes, formatTime, shortDigest } from "../../format";
import { UsageError } from "../errors";
import { confirm, eachArg, flag, SCOPE_OPTIONS, scopeOf } from "../input";
import { renderTable } from "../table";
import type { Command } from "../types";

export type TrashRow = Out<BerthClient["trash"]["list"]["query"]>[number];

/** The columns of a trash listing: what it was, and until when it can come back. */
export function trashTable(rows: TrashRow[]): string {
  return renderTable<TrashRow>(
    [
      { header: "ID", value: (r) => r.id },
      { header: "REPOSITORY", value: (r) => r.repository },
      { header: "DIGEST", value: (r) => shortDigest(r.digest) },
      { header: "TAGS", value: (r) => r.tags.join(",") },
      { header: "SIZE", value: (r) => formatBytes(r.size), align: "right" },
      { header: "DELETED BY", value: (r) => r.reason },
      { header: "DELETED", value: (r) => formatTime(r.deletedAt) },
      { header: "UNTIL", value: (r) => formatTime(r.expiresAt) },
    ],
    rows,
  );
}

/** The trash: deleted images, restorable until they expire. */
export const trashCommands: Command[] = [
  {
    name: "trash-list",
    args: "",
    summary: "list deleted images in the trash and until when they can be restored",
    example: "berth trash-list --namespace birds",
    options: SCOPE_OPTIONS,
    max: 0,
    async run(ctx) {
      const rows = await ctx.client().trash.list.query(scopeOf(ctx));
      return { data: rows, text: rows.length === 0 ? "The trash is empty." : trashTable(rows) };
    },
  },
  {
    name: "image-restore",
    args: "IMAGE...",
    summary: "put deleted images back from the trash, by digest or by the tag they had",
    example: "berth image-restore birds/robin:1.0 birds/wren@sha256:4f1c…",
    min: 1,
    async run(ctx) {
      const client = ctx.client();
      const restored = await eachArg(ctx, (image) => client.image.restore.mutate({ image }));
      const text = restored
        .map((r) => {
          const tags = r.tags.length > 0 ? ` with tags ${r.tags.join(", ")}` : "";
          const kept =
            r.tagsKept.length > 0
              ? `; ${r.tagsKept.join(", ")} now name another image and stayed there`
              : "";
          return `Restored ${r.image} (${shortDigest(r.digest)})${tags}${kept}.`;
        })
        .join("\n");
      return { data: restored, text };
    },
  },
  {
    name: "trash-purge",
    args: "[ID...]",
    summary: "delete trash entries for good (ids from trash-list, or --all)",
    example: "berth trash-purge 01937f6e-7c1a-7b4e-9d2f-3a5b6c7d8e9f",
    options: {
      all: { type: "boolean", help: "empty the whole trash of the region" },
      force: { type: "boolean", help: "do not ask for confirmation" },
    },
    async run(ctx) {
      const all = flag(ctx, "all");
      if (all === ctx.args.length > 0) {
        throw new UsageError("give trash entry ids (see trash-list) or --all, not both");
      }
      await confirm(
        ctx,
        all
          ? "Empty the whole trash? Its images cannot be restored afterwards?"
          : `Purge ${ctx.args.length} trash ${ctx.args.length === 1 ? "entry" : "entries"} for good?`,
      );
      const purged = await ctx.client().trash.purge.mutate(all ? {} : { ids: ctx.args });
      const text =
        purged.length === 0
          ? "The trash was already empty."
          : purged.map((p) => `Purged ${p.repository}@${p.digest} (${p.id}).`).join("\n");
      return { data: purged, text };
    },
  },
];
