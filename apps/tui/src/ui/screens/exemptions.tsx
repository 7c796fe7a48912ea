import { Text } from "ink";
import { useState } from "react";
import type { ExemptionRow } from "../../api";
import { formatTime } from "../../format";
import { ListScreen } from "./list-screen";
import type { ScreenProps } from "./types";

export function ExemptionsScreen({ client, ...screen }: ScreenProps) {
  const [scope, setScope] = useState("");
  return (
    <ListScreen<ExemptionRow>
      {...screen}
      title={
        <Text wrap="truncate">
          <Text bold>Exemptions</Text>
          <Text dimColor>{scope ? ` that apply to ${scope}` : " of the account"}</Text>
        </Text>
      }
      noun="exemptions"
      load={(page) => client.exemption.list.query({ ...(scope ? { scope } : {}), ...page })}
      loadKey={`exemptions:${scope}`}
      columns={[
        { header: "SCOPE", value: (r) => r.scope },
        { header: "TYPE", width: 13, value: (r) => r.issueType },
        { header: "ISSUE", width: 30, value: (r) => r.issueId },
        { header: "CREATED", width: 16, value: (r) => formatTime(r.createdAt) },
      ]}
      rowKey={(r) => r.id}
      filterText={(r) => `${r.scope} ${r.issueType} ${r.issueId}`}
      empty="No exemptions: press n to add one."
      keys={[
        {
          key: "n",
          help: "new",
          title: "New exemption",
          fields: [
            { key: "scope", label: "Scope", placeholder: "*, ns, ns/repo, ns/repo:tag" },
            {
              key: "issueType",
              label: "Issue type",
              kind: "choice",
              options: ["cve", "configuration"],
            },
            { key: "issueId", label: "Issue id", placeholder: "CVE-2018-17929" },
          ],
          submit: (v, { action, reload }) => {
            const input = {
              scope: v.scope?.trim() ?? "",
              issueType: v.issueType as "cve",
              issueId: v.issueId?.trim() ?? "",
            };
            action.run(
              `Exempting ${input.issueId}`,
              () => client.exemption.create.mutate(input),
              (e) => {
                reload();
                return `Exemption of ${e.issueId} added for ${e.scope}`;
              },
            );
          },
        },
        {
          key: "d",
          help: "delete",
          message: (e) =>
            `Remove the exemption of ${e.issueId} for ${e.scope}? The issue will count again.`,
          confirmed: (e, { action, reload }) =>
            action.run(
              `Removing exemption ${e.issueId}`,
              () =>
                client.exemption.delete.mutate({
                  scope: e.scope,
                  issueType: e.issueType as "cve",
                  issueId: e.issueId,
                }),
              () => {
                reload();
                return `Exemption of ${e.issueId} removed from ${e.scope}`;
              },
            ),
        },
        {
          key: "s",
          help: "scope",
          title: "Exemptions that apply to a scope",
          clearsStatus: false,
          fields: [
            {
              key: "scope",
              label: "Scope",
              initial: scope,
              placeholder: "ns, ns/repo, ns/repo:tag; empty for all",
            },
          ],
          submit: (v) => setScope(v.scope?.trim() ?? ""),
        },
      ]}
    />
  );
}
