import { Box } from "ink";
import { useState } from "react";
import type { BerthClient, NamespaceRow } from "../../api";
import { formatBytes, formatTime } from "../../format";
import { Confirm, Form, StatusLine, Table, useList } from "../components";
import { useAction, useHelp, useKeys, useLoad } from "../context";

export interface ScreenProps {
  client: BerthClient;
  width: number;
  height: number;
  /** The screen is shown and owns the keyboard. */
  active: boolean;
}

type Mode = "list" | "create" | "delete";

export function NamespacesScreen({
  client,
  width,
  height,
  active,
  onOpen,
}: ScreenProps & { onOpen(namespace: string): void }) {
  const [mode, setMode] = useState<Mode>("list");
  const load = useLoad(() => client.namespace.list.query(), "namespaces");
  const action = useAction();
  const list = useList<NamespaceRow>(load.data ?? [], {
    active: active && mode === "list",
    text: (r) => r.name,
    key: (r) => r.name,
    page: height - 4,
  });
  useHelp(
    mode === "list"
      ? [
          ["↑↓", "move"],
          ["enter", "images"],
          ["n", "new"],
          ["d", "delete"],
          ["/", "filter"],
          ["r", "refresh"],
        ]
      : [],
  );
  useKeys(
    (input) => {
      if (input === "n") {
        action.clear();
        setMode("create");
      } else if (input === "d" && list.current) setMode("delete");
      else if (input === "r") {
        action.clear();
        load.reload();
      }
    },
    active && mode === "list" && !list.filtering,
  );
  useKeys(
    (_input, key) => {
      if (key.return && list.current) onOpen(list.current.name);
    },
    active && mode === "list" && !list.filtering,
  );

  const filterBar = list.filterBar(width);
  const tableHeight = height - 1 - (filterBar ? 1 : 0);
  return (
    <Box flexDirection="column" height={height}>
      <StatusLine
        action={action}
        loading={load.loading && !load.data && "Loading namespaces"}
        {...(load.error ? { loadError: load.error } : {})}
        width={width}
      />
      {filterBar}
      {mode === "create" ? (
        <Form
          title="New namespace"
          width={width}
          fields={[
            {
              key: "name",
              label: "Name",
              placeholder: "4-30 of a-z 0-9 - _",
            },
          ]}
          onCancel={() => setMode("list")}
          onSubmit={({ name }) => {
            setMode("list");
            action.run(
              `Creating namespace ${name}`,
              () => client.namespace.create.mutate({ name: name!.trim() }),
              (ns) => {
                load.reload();
                return `Namespace ${ns.name} created in ${ns.region}`;
              },
            );
          }}
        />
      ) : mode === "delete" && list.current ? (
        <Confirm
          width={width}
          message={`Delete namespace ${list.current.name} and its ${list.current.images} image(s)? This cannot be undone.`}
          onNo={() => setMode("list")}
          onYes={() => {
            const name = list.current!.name;
            setMode("list");
            action.run(
              `Deleting namespace ${name}`,
              () => client.namespace.delete.mutate({ name }),
              (r) => {
                load.reload();
                return `Namespace ${r.name} deleted (${r.images} images, ${formatBytes(r.releasedBytes)} released)`;
              },
            );
          }}
        />
      ) : (
        <Table<NamespaceRow>
          columns={[
            { header: "NAMESPACE", value: (r) => r.name },
            { header: "REPOS", width: 6, value: (r) => String(r.repositories), align: "right" },
            { header: "IMAGES", width: 6, value: (r) => String(r.images), align: "right" },
            { header: "CREATED", width: 16, value: (r) => formatTime(r.createdAt) },
          ]}
          rows={list.rows}
          selected={list.selected}
          height={tableHeight}
          width={width}
          rowKey={(r) => r.name}
          empty={load.data ? "No namespaces yet: press n to add one." : ""}
        />
      )}
    </Box>
  );
}
