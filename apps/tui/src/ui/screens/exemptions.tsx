import { Box, Text } from "ink";
import { useState } from "react";
import type { ExemptionRow } from "../../api";
import { formatTime } from "../../format";
import { Confirm, Form, StatusLine, Table, useList } from "../components";
import { useAction, useHelp, useKeys, useLoad } from "../context";
import type { ScreenProps } from "./namespaces";

type Mode = "list" | "create" | "delete" | "scope";

export function ExemptionsScreen({ client, width, height, active }: ScreenProps) {
  const [mode, setMode] = useState<Mode>("list");
  const [scope, setScope] = useState("");
  const load = useLoad(
    () => client.exemption.list.query(scope ? { scope } : undefined),
    `exemptions:${scope}`,
  );
  const action = useAction();
  const list = useList<ExemptionRow>(load.data ?? [], {
    active: active && mode === "list",
    text: (r) => `${r.scope} ${r.issueType} ${r.issueId}`,
    key: (r) => r.id,
    page: height - 4,
  });
  useHelp(
    mode === "list"
      ? [
          ["↑↓", "move"],
          ["n", "new"],
          ["d", "delete"],
          ["s", "scope"],
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
      } else if (input === "s") setMode("scope");
      else if (input === "d" && list.current) setMode("delete");
      else if (input === "r") {
        action.clear();
        load.reload();
      }
    },
    active && mode === "list" && !list.filtering,
  );
  const filterBar = list.filterBar(width);
  const bodyHeight = height - 2 - (filterBar ? 1 : 0);
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate">
        <Text bold>Exemptions</Text>
        <Text dimColor>{scope ? ` that apply to ${scope}` : " of the account"}</Text>
      </Text>
      <StatusLine
        action={action}
        loading={load.loading && !load.data && "Loading exemptions"}
        {...(load.error ? { loadError: load.error } : {})}
        width={width}
      />
      {filterBar}
      {mode === "scope" ? (
        <Form
          title="Exemptions that apply to a scope"
          width={width}
          fields={[
            {
              key: "scope",
              label: "Scope",
              initial: scope,
              placeholder: "ns, ns/repo, ns/repo:tag; empty for all",
            },
          ]}
          onCancel={() => setMode("list")}
          onSubmit={(v) => {
            setMode("list");
            setScope(v.scope?.trim() ?? "");
          }}
        />
      ) : mode === "create" ? (
        <Form
          title="New exemption"
          width={width}
          fields={[
            { key: "scope", label: "Scope", placeholder: "*, ns, ns/repo, ns/repo:tag" },
            {
              key: "issueType",
              label: "Issue type",
              kind: "choice",
              options: ["cve", "configuration"],
            },
            { key: "issueId", label: "Issue id", placeholder: "CVE-2018-17929" },
          ]}
          onCancel={() => setMode("list")}
          onSubmit={(v) => {
            setMode("list");
            const input = {
              scope: v.scope?.trim() ?? "",
              issueType: v.issueType as "cve",
              issueId: v.issueId?.trim() ?? "",
            };
            action.run(
              `Exempting ${input.issueId}`,
              () => client.exemption.create.mutate(input),
              (e) => {
                load.reload();
                return `Exemption of ${e.issueId} added for ${e.scope}`;
              },
            );
          }}
        />
      ) : mode === "delete" && list.current ? (
        <Confirm
          width={width}
          message={`Remove the exemption of ${list.current.issueId} for ${list.current.scope}? The issue will count again.`}
          onNo={() => setMode("list")}
          onYes={() => {
            const e = list.current!;
            setMode("list");
            action.run(
              `Removing exemption ${e.issueId}`,
              () =>
                client.exemption.delete.mutate({
                  scope: e.scope,
                  issueType: e.issueType as "cve",
                  issueId: e.issueId,
                }),
              () => {
                load.reload();
                return `Exemption of ${e.issueId} removed from ${e.scope}`;
              },
            );
          }}
        />
      ) : (
        <Table<ExemptionRow>
          columns={[
            { header: "SCOPE", value: (r) => r.scope },
            { header: "TYPE", width: 13, value: (r) => r.issueType },
            { header: "ISSUE", width: 30, value: (r) => r.issueId },
            { header: "CREATED", width: 16, value: (r) => formatTime(r.createdAt) },
          ]}
          rows={list.rows}
          selected={list.selected}
          rowKey={(r) => r.id}
          height={bodyHeight}
          width={width}
          empty={load.data ? "No exemptions: press n to add one." : ""}
        />
      )}
    </Box>
  );
}
