import { Box, Text } from "ink";
import { useState } from "react";
import type { CreatedToken, TokenRow } from "../../api";
import { formatTime } from "../../format";
import { Confirm, Form, loadStatus, Pairs, StatusLine } from "../components";
import { useAction, useCapture, useHelp, useKeys, useLoad } from "../context";
import { useLoadNearEnd, usePages } from "../pages";
import { Table, useList } from "../table";
import type { ScreenProps } from "./types";

type Mode = "list" | "create" | "delete" | "detail" | "secret";

const expires = (t: TokenRow) =>
  t.expired ? "expired" : t.expiresAt ? formatTime(t.expiresAt) : "never";

export function TokensScreen({ client, width, height, active }: ScreenProps) {
  const [mode, setMode] = useState<Mode>("list");
  const [created, setCreated] = useState<CreatedToken>();
  const load = usePages((page) => client.registrytoken.list.query(page), "tokens");
  const action = useAction();
  const list = useList<TokenRow>(load.data ?? [], {
    active: active && mode === "list",
    text: (r) => `${r.id} ${r.description} ${r.access}`,
    key: (r) => r.id,
    page: height - 4,
    multi: true,
  });
  useLoadNearEnd(load, list, height - 4);
  useHelp(
    mode === "list"
      ? [
          ["↑↓", "move"],
          ["enter", "details"],
          ["space", "mark"],
          ["n", "new"],
          ["d", "delete"],
          ["/", "filter"],
          ["r", "refresh"],
        ]
      : mode === "detail"
        ? [["Esc", "back"]]
        : [],
  );
  useKeys(
    (input, key) => {
      if (input === "n") {
        action.clear();
        setMode("create");
      } else if (input === "r") {
        action.clear();
        load.reload();
      } else if (input === "d" && list.targets.length > 0) setMode("delete");
      else if (key.return && list.current) setMode("detail");
    },
    active && mode === "list" && !list.filtering,
  );
  const ids = list.targets.map((t) => t.id);
  const filterBar = list.filterBar(width);
  const bodyHeight = height - 1 - (filterBar ? 1 : 0);

  let body: React.ReactNode;
  if (mode === "create") {
    body = (
      <Form
        title="New registry token"
        width={width}
        fields={[
          { key: "description", label: "Description", placeholder: "what it is for" },
          { key: "access", label: "Access", kind: "choice", options: ["read", "readwrite"] },
          { key: "expiry", label: "Expires", kind: "choice", options: ["in 24 hours", "never"] },
        ]}
        onCancel={() => setMode("list")}
        onSubmit={(v) => {
          setMode("list");
          action.run(
            "Creating registry token",
            () =>
              client.registrytoken.create.mutate({
                description: v.description ?? "",
                access: v.access === "readwrite" ? "readwrite" : "read",
                nonExpiring: v.expiry === "never",
              }),
            (t) => {
              setCreated(t);
              setMode("secret");
              load.reload();
              return `Registry token ${t.id} created`;
            },
          );
        }}
      />
    );
  } else if (mode === "secret" && created) {
    body = (
      <SecretPanel token={created} width={width} active={active} onDone={() => setMode("list")} />
    );
  } else if (mode === "delete" && ids.length > 0) {
    body = (
      <Confirm
        width={width}
        message={`Delete ${ids.length === 1 ? `registry token ${ids[0]}` : `${ids.length} registry tokens`}? Clients using ${ids.length === 1 ? "it" : "them"} lose access.`}
        onNo={() => setMode("list")}
        onYes={() => {
          setMode("list");
          action.run(
            `Deleting ${ids.length} token(s)`,
            async () => {
              if (ids.length === 1) {
                await client.registrytoken.delete.mutate({ id: ids[0]! });
                return [];
              }
              const r = await client.registrytokens.delete.mutate({ ids });
              return r.results.filter((x) => !x.ok);
            },
            (failed) => {
              list.clearMarks();
              load.reload();
              if (failed.length > 0)
                throw new Error(failed.map((f) => f.error?.message).join("; "));
              return `Deleted ${ids.length === 1 ? `token ${ids[0]}` : `${ids.length} tokens`}`;
            },
          );
        }}
      />
    );
  } else if (mode === "detail" && list.current) {
    body = (
      <TokenDetail
        id={list.current.id}
        client={client}
        width={width}
        active={active}
        onBack={() => setMode("list")}
      />
    );
  } else {
    body = (
      <Table<TokenRow>
        columns={[
          { header: "TOKEN ID", width: 36, value: (r) => r.id },
          { header: "ACCESS", width: 9, value: (r) => r.access },
          {
            header: "EXPIRES",
            width: 16,
            value: expires,
            color: (r) => (r.expired ? "red" : undefined),
          },
          { header: "DESCRIPTION", value: (r) => r.description || "-" },
        ]}
        rows={list.rows}
        selected={list.selected}
        marked={list.marked}
        rowKey={(r) => r.id}
        height={bodyHeight}
        width={width}
        empty={load.data ? "No registry tokens: press n to create one." : ""}
      />
    );
  }
  return (
    <Box flexDirection="column" height={height}>
      <StatusLine action={action} {...loadStatus(load, "Loading registry tokens")} width={width} />
      {filterBar}
      {body}
    </Box>
  );
}

/** The secret, once: it is not stored anywhere Berth could show it again. */
function SecretPanel({
  token,
  width,
  active,
  onDone,
}: {
  token: CreatedToken;
  width: number;
  active: boolean;
  onDone(): void;
}) {
  useCapture(active);
  useKeys((_input, key) => {
    if (key.return || key.escape) onDone();
  }, active);
  return (
    <Box
      borderStyle="round"
      borderColor="green"
      paddingX={1}
      flexDirection="column"
      width={Math.min(width, 90)}
    >
      <Text color="green" bold>
        Registry token created. Copy the secret now: it is shown only this once.
      </Text>
      <Pairs
        width={width - 4}
        pairs={[
          ["Token ID", token.id],
          ["Username", token.username],
          ["Access", token.access],
          ["Expires", token.expiresAt ? formatTime(token.expiresAt) : "never"],
        ]}
      />
      <Text>Secret</Text>
      <Text color="yellow" wrap="wrap">
        {token.secret}
      </Text>
      <Text dimColor>Enter or Esc when done</Text>
    </Box>
  );
}

function TokenDetail({
  id,
  client,
  width,
  active,
  onBack,
}: {
  id: string;
  client: ScreenProps["client"];
  width: number;
  active: boolean;
  onBack(): void;
}) {
  const load = useLoad(() => client.registrytoken.get.query({ id }), `token:${id}`);
  useCapture(active);
  useKeys((input, key) => {
    if (key.escape || key.return || input === "q") onBack();
  }, active);
  if (!load.data) {
    return (
      <StatusLine
        loading={load.loading && "Loading token"}
        {...(load.error ? { loadError: load.error } : {})}
        width={width}
      />
    );
  }
  const t = load.data;
  return (
    <Box flexDirection="column">
      <Text bold>Registry token</Text>
      <Pairs
        width={width}
        pairs={[
          ["Token ID", t.id],
          ["Region", t.region],
          ["Access", t.access],
          ["Description", t.description || "-"],
          ["Expires", expires(t)],
          ["Created", formatTime(t.createdAt)],
          ["Created by", t.createdBy],
          ["Last used", formatTime(t.lastUsedAt)],
        ]}
      />
    </Box>
  );
}
