import { Box, Text } from "ink";
import { useState } from "react";
import type { BerthClient, ImageDetails, ImageRow } from "../../api";
import { formatBytes, formatTime, shortDigest } from "../../format";
import { Confirm, Form, loadStatus, Pairs, Scroller, StatusLine } from "../components";
import { useAction, useCapture, useHelp, useKeys, useLoad } from "../context";
import { useLoadNearEnd, usePages } from "../pages";
import { Table, useList } from "../table";
import type { ScreenProps } from "./types";

type Mode = "list" | "filter" | "tag" | "untag" | "rm" | "detail";

export interface ImageFilter {
  namespace?: string;
  repository?: string;
}

export function ImagesScreen({
  client,
  width,
  height,
  active,
  filter,
  onFilter,
}: ScreenProps & { filter: ImageFilter; onFilter(f: ImageFilter): void }) {
  const [mode, setMode] = useState<Mode>("list");
  const load = usePages(
    (page) => client.image.list.query({ ...filter, ...page }),
    `images:${JSON.stringify(filter)}`,
  );
  const action = useAction();
  const list = useList<ImageRow>(load.data ?? [], {
    active: active && mode === "list",
    text: (r) => `${r.image} ${r.digest}`,
    key: (r) => r.image,
    page: height - 4,
    multi: true,
  });
  useLoadNearEnd(load, list, height - 4);
  const listKeys = active && mode === "list" && !list.filtering;
  useHelp(
    mode === "list"
      ? [
          ["↑↓", "move"],
          ["enter", "inspect"],
          ["space", "mark"],
          ["t", "tag"],
          ["u", "untag"],
          ["d", "rm"],
          ["f", "namespace/repo"],
          ["/", "filter"],
          ["r", "refresh"],
        ]
      : mode === "detail"
        ? [
            ["↑↓", "scroll"],
            ["m", "manifest"],
            ["c", "config"],
            ["l", "layers"],
            ["Esc", "back"],
          ]
        : [],
  );
  useKeys((input, key) => {
    if (input === "r") {
      action.clear();
      load.reload();
    } else if (input === "f") setMode("filter");
    else if (!list.current) return;
    else if (key.return) setMode("detail");
    else if (input === "t") setMode("tag");
    else if (input === "u") setMode("untag");
    else if (input === "d") setMode("rm");
  }, listKeys);

  const names = list.targets.map((r) => r.image);
  const done =
    (verb: string) => (r: { results: { ok: boolean; error?: { message: string } }[] }) => {
      list.clearMarks();
      load.reload();
      const failed = r.results.filter((x) => !x.ok);
      if (failed.length > 0) throw new Error(failed.map((f) => f.error?.message).join("; "));
      return `${verb} ${names.join(", ")}`;
    };
  const scope = filter.repository ?? filter.namespace;
  const filterBar = list.filterBar(width);
  const bodyHeight = height - 2 - (filterBar ? 1 : 0);

  let body: React.ReactNode;
  if (mode === "detail" && list.current) {
    body = (
      <ImageDetail
        client={client}
        image={list.current.image}
        width={width}
        height={bodyHeight}
        active={active}
        onBack={() => setMode("list")}
      />
    );
  } else if (mode === "filter") {
    body = (
      <Form
        title="Show images of"
        width={width}
        fields={[
          {
            key: "namespace",
            label: "Namespace",
            initial: filter.namespace ?? "",
            placeholder: "all",
          },
          {
            key: "repository",
            label: "Repository",
            initial: filter.repository ?? "",
            placeholder: "ns/repo, or all",
          },
        ]}
        onCancel={() => setMode("list")}
        onSubmit={(v) => {
          setMode("list");
          onFilter({
            ...(v.namespace?.trim() ? { namespace: v.namespace.trim() } : {}),
            ...(v.repository?.trim() ? { repository: v.repository.trim() } : {}),
          });
        }}
      />
    );
  } else if (mode === "tag" && list.current) {
    const source = list.current.image;
    body = (
      <Form
        title={`Tag ${source}`}
        width={width}
        fields={[
          {
            key: "target",
            label: "New tag",
            initial: `${list.current.repository}:`,
            placeholder: "ns/repo:tag",
          },
        ]}
        onCancel={() => setMode("list")}
        onSubmit={({ target }) => {
          setMode("list");
          action.run(
            `Tagging ${source} as ${target}`,
            () => client.image.tag.mutate({ source, target: target!.trim() }),
            (r) => {
              load.reload();
              return `Tagged ${r.source} as ${r.target}`;
            },
          );
        }}
      />
    );
  } else if ((mode === "untag" || mode === "rm") && list.targets.length > 0) {
    const rm = mode === "rm";
    body = (
      <Confirm
        width={width}
        message={
          rm
            ? `Delete ${names.length === 1 ? names[0] : `${names.length} images`} with every tag of ${names.length === 1 ? "it" : "them"} in the repository?`
            : `Remove tag${names.length === 1 ? "" : "s"} ${names.join(", ")}? The images stay.`
        }
        onNo={() => setMode("list")}
        onYes={() => {
          setMode("list");
          action.run(
            rm ? `Deleting ${names.join(", ")}` : `Untagging ${names.join(", ")}`,
            () =>
              rm
                ? client.image.rm.mutate({ images: names })
                : client.image.untag.mutate({ images: names }),
            done(rm ? "Deleted" : "Untagged"),
          );
        }}
      />
    );
  } else {
    body = (
      <Table<ImageRow>
        columns={[
          { header: "IMAGE", value: (r) => r.image },
          { header: "DIGEST", width: 19, value: (r) => shortDigest(r.digest) },
          { header: "SIZE", width: 8, value: (r) => formatBytes(r.size), align: "right" },
          { header: "PUSHED", width: 16, value: (r) => formatTime(r.pushedAt) },
        ]}
        rows={list.rows}
        selected={list.selected}
        marked={list.marked}
        rowKey={(r) => r.image}
        height={bodyHeight}
        width={width}
        empty={load.data ? "No images here." : ""}
      />
    );
  }
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate">
        <Text bold>Images</Text>
        <Text dimColor>{scope ? ` in ${scope}` : " of the account"}</Text>
        {list.marked.size > 0 ? <Text color="magenta"> · {list.marked.size} marked</Text> : null}
      </Text>
      <StatusLine action={action} {...loadStatus(load, "Loading images")} width={width} />
      {filterBar}
      {body}
    </Box>
  );
}

type View = "summary" | "manifest" | "config";

function ImageDetail({
  client,
  image,
  width,
  height,
  active,
  onBack,
}: {
  client: BerthClient;
  image: string;
  width: number;
  height: number;
  active: boolean;
  onBack(): void;
}) {
  const load = useLoad(() => client.image.inspect.query({ image }), `inspect:${image}`);
  const [view, setView] = useState<View>("summary");
  useCapture(active);
  useKeys((input, key) => {
    if (key.escape || input === "q") onBack();
    else if (input === "m") setView("manifest");
    else if (input === "c") setView("config");
    else if (input === "l" || input === "s") setView("summary");
  }, active);
  if (!load.data) {
    return (
      <StatusLine
        loading={load.loading && `Inspecting ${image}`}
        {...(load.error ? { loadError: load.error } : {})}
        width={width}
      />
    );
  }
  const d: ImageDetails = load.data;
  if (view !== "summary") {
    const json = JSON.stringify(view === "manifest" ? d.manifest : d.config, null, 2).split("\n");
    return (
      <Box flexDirection="column">
        <Text bold>
          {view === "manifest" ? "Manifest" : "Config"} of {image}
        </Text>
        <Scroller lines={json} height={height - 1} width={width} active={active} />
      </Box>
    );
  }
  const config = (d.config ?? {}) as { os?: string; architecture?: string; created?: string };
  const pairs: [string, string][] = [
    ["Image", d.image],
    ["Digest", d.digest],
    ["Media type", d.mediaType],
    ["Tags", d.tags.join(", ") || "-"],
    ["Size", `${formatBytes(d.size)} (manifest ${d.manifestSize} B)`],
    ["Pushed", formatTime(d.pushedAt)],
    ["Platform", config.os ? `${config.os}/${config.architecture ?? "?"}` : "-"],
    ["Created", config.created ?? "-"],
  ];
  const layerLines = d.layers.map((l) => `${formatBytes(l.size).padStart(9)}  ${l.digest}`);
  return (
    <Box flexDirection="column">
      <Pairs pairs={pairs} width={width} />
      <Text bold>Layers ({d.layers.length})</Text>
      <Scroller
        lines={layerLines}
        height={Math.max(1, height - pairs.length - 1)}
        width={width}
        active={active}
      />
    </Box>
  );
}
