import { Box, Text } from "ink";
import { useState } from "react";
import { formatBytes, formatMb } from "../../format";
import { Confirm, Form, loadStatus, StatusLine, UsageBar } from "../components";
import { useAction, useHelp, useKeys, useLoad } from "../context";
import type { ScreenProps } from "./types";

type Mode = "view" | "set" | "upgrade";

function mbField(value: string | undefined): number | null | undefined {
  const v = value?.trim() ?? "";
  if (v === "") return undefined;
  if (/^(unlimited|none)$/i.test(v)) return null;
  // The server validates; a non-number goes through so its message is shown.
  return Number(v);
}

export function QuotaScreen({ client, width, height, active }: ScreenProps) {
  const [mode, setMode] = useState<Mode>("view");
  const load = useLoad(async () => {
    const [quota, plan] = await Promise.all([client.quota.get.query(), client.plan.get.query()]);
    return { quota, plan };
  }, "quota");
  const action = useAction();
  useHelp(
    mode === "view"
      ? [
          ["s", "set quotas"],
          ["u", "upgrade plan"],
          ["r", "refresh"],
        ]
      : [],
  );
  useKeys(
    (input) => {
      if (input === "s" && load.data) {
        action.clear();
        setMode("set");
      } else if (input === "u" && load.data) {
        action.clear();
        setMode("upgrade");
      } else if (input === "r") {
        action.clear();
        load.reload();
      }
    },
    active && mode === "view",
  );
  const q = load.data?.quota;
  const p = load.data?.plan;
  return (
    <Box flexDirection="column" height={height}>
      <StatusLine action={action} {...loadStatus(load, "Loading quota and plan")} width={width} />
      {mode === "set" && q ? (
        <Form
          title="Set quotas (MB; empty keeps, unlimited clears)"
          width={width}
          fields={[
            {
              key: "storage",
              label: "Storage MB",
              initial: q.quotas.storageMb === null ? "" : String(q.quotas.storageMb),
            },
            {
              key: "traffic",
              label: "Pull traffic MB",
              initial: q.quotas.trafficMb === null ? "" : String(q.quotas.trafficMb),
            },
          ]}
          onCancel={() => setMode("view")}
          onSubmit={(v) => {
            setMode("view");
            const storageMb = mbField(v.storage);
            const trafficMb = mbField(v.traffic);
            action.run(
              "Setting quotas",
              () =>
                client.quota.set.mutate({
                  ...(storageMb !== undefined ? { storageMb } : {}),
                  ...(trafficMb !== undefined ? { trafficMb } : {}),
                }),
              (r) => {
                load.reload();
                return `Quotas set: storage ${formatMb(r.quotas.storageMb)}, pull traffic ${formatMb(r.quotas.trafficMb)}`;
              },
            );
          }}
        />
      ) : mode === "upgrade" && p ? (
        <Confirm
          width={width}
          message={
            p.plan === "standard"
              ? "The plan is already standard. Ask again anyway?"
              : `Upgrade region ${p.region} from the lite plan to standard? Plans cannot be downgraded.`
          }
          onNo={() => setMode("view")}
          onYes={() => {
            setMode("view");
            action.run(
              "Upgrading the plan",
              () => client.plan.set.mutate({ plan: "standard" }),
              (r) => {
                load.reload();
                return r.changed ? `Plan upgraded to ${r.plan}` : `Plan is already ${r.plan}`;
              },
            );
          }}
        />
      ) : q && p ? (
        <Box flexDirection="column" gap={1}>
          <Text>
            <Text bold>Plan </Text>
            <Text color={p.plan === "standard" ? "green" : "yellow"}>{p.plan}</Text>
            <Text dimColor>
              {" "}
              in {p.region} · caps: storage{" "}
              {p.caps.storageBytes === null ? "none" : formatBytes(p.caps.storageBytes)}, traffic{" "}
              {p.caps.pullTrafficBytes === null
                ? "none"
                : `${formatBytes(p.caps.pullTrafficBytes)}/month`}
            </Text>
          </Text>
          <UsageBar
            label={`Storage (your quota: ${formatMb(q.quotas.storageMb)})`}
            used={q.usage.storageBytes}
            limit={q.limits.storageBytes}
            width={width}
            format={formatBytes}
          />
          <UsageBar
            label={`Pull traffic in ${q.month} (your quota: ${formatMb(q.quotas.trafficMb)})`}
            used={q.usage.pullTrafficBytes}
            limit={q.limits.pullTrafficBytes}
            width={width}
            format={formatBytes}
          />
        </Box>
      ) : null}
    </Box>
  );
}
