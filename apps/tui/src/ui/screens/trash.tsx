import { Text } from "ink";
import type { BerthClient, Out } from "../../api";
import { formatTime, shortDigest } from "../../format";
import { ListScreen } from "./list-screen";
import type { ScreenProps } from "./types";

type TrashRow = Out<BerthClient["trash"]["list"]["query"]>[number];

const restoredText = (r: Out<BerthClient["image"]["restore"]["mutate"]>) => {
  const tags = r.tags.length > 0 ? ` with ${r.tags.join(", ")}` : "";
  const kept = r.tagsKept.length > 0 ? ` (${r.tagsKept.join(", ")} now name another image)` : "";
  return `Restored ${r.image}${tags}${kept}`;
};

/** Deleted images, until when each can still be restored; restore or purge the selected one. */
export function TrashScreen({ client, ...screen }: ScreenProps) {
  return (
    <ListScreen<TrashRow>
      {...screen}
      title={
        <Text wrap="truncate">
          <Text bold>Trash</Text>
          <Text dimColor> deleted images, restorable until the date shown</Text>
        </Text>
      }
      noun="the trash"
      // The trash is one list (a region's entries), not paged.
      load={async () => ({ items: await client.trash.list.query(), nextCursor: null })}
      loadKey="trash"
      columns={[
        { header: "REPOSITORY", value: (r) => r.repository },
        { header: "DIGEST", width: 19, value: (r) => shortDigest(r.digest) },
        { header: "TAGS", width: 14, value: (r) => r.tags.join(",") || "-" },
        { header: "DELETED BY", width: 20, value: (r) => r.reason },
        { header: "UNTIL", width: 16, value: (r) => formatTime(r.expiresAt) },
      ]}
      rowKey={(r) => r.id}
      filterText={(r) => `${r.repository} ${r.digest} ${r.tags.join(" ")} ${r.reason}`}
      empty="The trash is empty: deleted images appear here until they expire."
      keys={[
        {
          key: "u",
          help: "restore",
          message: (r) =>
            `Restore ${r.repository}@${shortDigest(r.digest)}${r.tags.length > 0 ? ` with its tags ${r.tags.join(", ")}` : ""}?`,
          confirmed: (r, { action, reload }) =>
            action.run(
              `Restoring ${r.repository}@${shortDigest(r.digest)}`,
              () => client.image.restore.mutate({ image: `${r.repository}@${r.digest}` }),
              (restored) => {
                reload();
                return restoredText(restored);
              },
            ),
        },
        {
          key: "p",
          help: "purge",
          message: (r) =>
            `Delete ${r.repository}@${shortDigest(r.digest)} for good? It cannot be restored afterwards.`,
          confirmed: (r, { action, reload }) =>
            action.run(
              `Purging ${r.repository}@${shortDigest(r.digest)}`,
              () => client.trash.purge.mutate({ ids: [r.id] }),
              () => {
                reload();
                return `Purged ${r.repository}@${shortDigest(r.digest)}`;
              },
            ),
        },
      ]}
    />
  );
}
