import type { NamespaceRow } from "../../api";
import { formatBytes, formatTime } from "../../format";
import { ListScreen } from "./list-screen";
import type { ScreenProps } from "./types";

export function NamespacesScreen({
  client,
  onOpen,
  ...screen
}: ScreenProps & { onOpen(namespace: string): void }) {
  return (
    <ListScreen<NamespaceRow>
      {...screen}
      noun="namespaces"
      load={(page) => client.namespace.list.query(page)}
      loadKey="namespaces"
      columns={[
        { header: "NAMESPACE", value: (r) => r.name },
        { header: "REPOS", width: 6, value: (r) => String(r.repositories), align: "right" },
        { header: "IMAGES", width: 6, value: (r) => String(r.images), align: "right" },
        { header: "CREATED", width: 16, value: (r) => formatTime(r.createdAt) },
      ]}
      rowKey={(r) => r.name}
      filterText={(r) => r.name}
      empty="No namespaces yet: press n to add one."
      open={{ help: "images", run: (r) => onOpen(r.name) }}
      keys={[
        {
          key: "n",
          help: "new",
          title: "New namespace",
          fields: [{ key: "name", label: "Name", placeholder: "4-30 of a-z 0-9 - _" }],
          submit: ({ name }, { action, reload }) =>
            action.run(
              `Creating namespace ${name}`,
              () => client.namespace.create.mutate({ name: name!.trim() }),
              (ns) => {
                reload();
                return `Namespace ${ns.name} created in ${ns.region}`;
              },
            ),
        },
        {
          key: "d",
          help: "delete",
          message: (r) =>
            `Delete namespace ${r.name} and its ${r.images} image(s)? This cannot be undone.`,
          confirmed: ({ name }, { action, reload }) =>
            action.run(
              `Deleting namespace ${name}`,
              () => client.namespace.delete.mutate({ name }),
              (r) => {
                reload();
                return `Namespace ${r.name} deleted (${r.images} images, ${formatBytes(r.releasedBytes)} released)`;
              },
            ),
        },
      ]}
    />
  );
}
