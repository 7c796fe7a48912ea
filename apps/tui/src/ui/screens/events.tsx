import { Box, Text } from "ink";
import { useCallback, useEffect, useRef, useState } from "react";
import {
  type EventLine,
  type EventsFilter,
  errorMessage,
  type TailEvent,
  untracked,
} from "../../api";
import { formatSeconds, fullAction, shortAction } from "../../format";
import { EventJson, Form, StatusLine } from "../components";
import { useHelp, useKeys, useUi } from "../context";
import { Table, useList } from "../table";
import { MarksLine, useMarks } from "./event-marks";
import type { ScreenProps } from "./types";

type Mode = "list" | "filters" | "detail";
type Filters = EventsFilter;

const PAGE = 100;

/** Newest first, each event once (a tail and a query may both bring it). */
export function mergeLines(current: EventLine[], incoming: EventLine[]): EventLine[] {
  const seen = new Set(current.map((l) => l._id));
  const fresh = incoming.filter((l) => !seen.has(l._id));
  if (fresh.length === 0) return current;
  return [...fresh, ...current].sort((a, b) => b._ts - a._ts);
}

function describe(f: Filters): string {
  const parts: string[] = [];
  if (f.action?.length) parts.push(f.action.map(shortAction).join(","));
  if (f.outcome?.length) parts.push(f.outcome.join(","));
  if (f.severity?.length) parts.push(f.severity.join(","));
  if (f.query) parts.push(`"${f.query}"`);
  if (f.target) parts.push(`target ${f.target}`);
  if (f.initiator) parts.push(`by ${f.initiator}`);
  return parts.join(" · ");
}

export function EventsScreen({ client, width, height, active }: ScreenProps) {
  const { url } = useUi();
  const [mode, setMode] = useState<Mode>("list");
  const [filters, setFilters] = useState<Filters>({});
  const [live, setLive] = useState(true);
  const [liveState, setLiveState] = useState<{
    state: "off" | "connecting" | "live" | "ended" | "error";
    error?: string;
  }>({ state: "off" });
  const [tailNonce, setTailNonce] = useState(0);
  const [page, setPage] = useState<{
    lines: EventLine[];
    paginationId: string | null;
    region?: string;
    loading: boolean;
    error?: string;
  }>({ lines: [], paginationId: null, loading: true });
  const [nonce, setNonce] = useState(0);
  const generation = useRef(0);

  const query = useCallback(
    (paginationId?: string) =>
      client.events.query.query({
        ...filters,
        size: PAGE,
        ...(paginationId ? { paginationId } : {}),
      }),
    [client, filters],
  );

  // The first page, again whenever the filters change or on refresh.
  // biome-ignore lint/correctness/useExhaustiveDependencies: nonce is the refresh trigger
  useEffect(() => {
    const id = ++generation.current;
    setPage((p) => ({ ...p, loading: true, error: undefined }));
    query().then(
      (r) => {
        if (id === generation.current) {
          setPage({
            lines: r.lines,
            paginationId: r.paginationId,
            region: r.region,
            loading: false,
          });
        }
      },
      (error: unknown) => {
        if (id === generation.current) {
          setPage((p) => ({ ...p, loading: false, error: errorMessage(error, url) }));
        }
      },
    );
  }, [query, nonce, url]);

  // The live tail: once the tracker says it is subscribed, a query catches up on what
  // arrived before, so nothing falls between the first page and the tail.
  // biome-ignore lint/correctness/useExhaustiveDependencies: tailNonce restarts the tail
  useEffect(() => {
    if (!live) {
      setLiveState({ state: "off" });
      return;
    }
    setLiveState({ state: "connecting" });
    const gen = generation.current;
    const sub = client.events.tail.subscribe(filters, {
      // Cut (the server or the tracker restarted): the client reconnects by itself and
      // resumes after the last line; `ready` then catches up with a query as at the start.
      onConnectionStateChange: (s) => {
        if (s.state === "connecting" && s.error) {
          setLiveState({ state: "connecting", error: errorMessage(s.error, url) });
        }
      },
      onData: (tracked: TailEvent) => {
        const m = untracked(tracked);
        if (m.kind === "ready") {
          setLiveState({ state: "live" });
          query().then(
            (r) => {
              if (gen === generation.current) {
                setPage((p) => ({ ...p, region: r.region, lines: mergeLines(p.lines, r.lines) }));
              }
            },
            () => {},
          );
        } else {
          setPage((p) => ({ ...p, lines: mergeLines(p.lines, [m.line]) }));
        }
      },
      onError: (error) => setLiveState({ state: "error", error: errorMessage(error, url) }),
      onComplete: () => setLiveState({ state: "ended" }),
    });
    return () => sub.unsubscribe();
  }, [client, filters, live, query, url, tailNonce]);

  const marks = useMarks(client, page.lines, page.region);
  const list = useList<EventLine>(page.lines, {
    active: active && mode === "list",
    text: (l) =>
      `${l.event.action} ${l.event.outcome} ${l.event.target.name} ${l.event.initiator.name} ${l.event.message}`,
    key: (l) => l._id,
    page: height - 5,
  });
  const [more, setMore] = useState<string>();
  useHelp(
    mode === "list"
      ? [
          ["↑↓", "move"],
          ["enter", "details"],
          ["f", "filters"],
          ["l", live ? "pause live" : "live"],
          ["m", "more"],
          ["/", "find"],
          ["r", "refresh"],
        ]
      : mode === "detail"
        ? [
            ["↑↓", "scroll"],
            ["Esc", "back"],
          ]
        : [],
  );
  useKeys(
    (input, k) => {
      if (input === "f") setMode("filters");
      else if (input === "l") setLive((v) => !v);
      else if (input === "r") {
        setNonce((n) => n + 1);
        // A tail that ended or failed (the server restarted) starts again.
        if (liveState.state === "ended" || liveState.state === "error") setTailNonce((n) => n + 1);
      } else if (k.return && list.current) setMode("detail");
      else if (input === "m" && page.paginationId) {
        const gen = generation.current;
        setMore("Loading older events");
        query(page.paginationId).then(
          (r) => {
            setMore(undefined);
            if (gen === generation.current) {
              setPage((p) => ({
                ...p,
                paginationId: r.paginationId,
                lines: mergeLines(p.lines, r.lines),
              }));
            }
          },
          (error: unknown) => {
            setMore(undefined);
            setPage((p) => ({ ...p, error: errorMessage(error, url) }));
          },
        );
      }
    },
    active && mode === "list" && !list.filtering,
  );

  const filterBar = list.filterBar(width);
  const bodyHeight = height - 3 - (filterBar ? 1 : 0);
  const liveBadge =
    liveState.state === "live" ? (
      <Text color="green">● live</Text>
    ) : liveState.state === "connecting" ? (
      <Text color="yellow">
        ○ {liveState.error ? `reconnecting (${liveState.error})` : "connecting"}
      </Text>
    ) : liveState.state === "error" ? (
      <Text color="red">✗ live: {liveState.error} (r retries)</Text>
    ) : liveState.state === "ended" ? (
      <Text color="yellow">○ live tail ended (r reconnects)</Text>
    ) : (
      <Text dimColor>○ paused</Text>
    );
  const described = describe(filters);
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate">
        <Text bold>Events</Text>
        <Text dimColor>{page.region ? ` in ${page.region}` : ""}</Text>
        <Text> </Text>
        {liveBadge}
        <Text dimColor>
          {" "}
          · {page.lines.length}
          {page.paginationId ? "+" : ""} shown{described ? ` · ${described}` : ""}
        </Text>
      </Text>
      <Text wrap="truncate">
        <MarksLine {...marks} />
      </Text>
      <StatusLine
        loading={(page.loading && page.lines.length === 0 && "Loading events") || more || false}
        {...(page.error ? { loadError: page.error } : {})}
        width={width}
      />
      {filterBar}
      {mode === "filters" ? (
        <Form
          title="Event filters (empty: any)"
          width={width}
          fields={[
            {
              key: "action",
              label: "Actions",
              initial: filters.action?.map(shortAction).join(",") ?? "",
              placeholder: "namespace.create,image.rm",
            },
            {
              key: "outcome",
              label: "Outcome",
              kind: "choice",
              options: ["any", "success", "failure"],
              initial: filters.outcome?.[0] ?? "any",
            },
            {
              key: "severity",
              label: "Severity",
              kind: "choice",
              options: ["any", "normal", "warning", "critical"],
              initial: filters.severity?.[0] ?? "any",
            },
            { key: "query", label: "Text", initial: filters.query ?? "" },
            {
              key: "target",
              label: "Target",
              initial: filters.target ?? "",
              placeholder: "name, or prefix*",
            },
            { key: "initiator", label: "Initiator", initial: filters.initiator ?? "" },
            {
              key: "region",
              label: "Tracker region",
              initial: filters.region ?? "",
              placeholder: "default: where this region's events go",
            },
          ]}
          onCancel={() => setMode("list")}
          onSubmit={(v) => {
            setMode("list");
            const actions = (v.action ?? "")
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean)
              .map(fullAction);
            const next: Filters = {
              ...(actions.length ? { action: actions } : {}),
              ...(v.outcome && v.outcome !== "any" ? { outcome: [v.outcome as "success"] } : {}),
              ...(v.severity && v.severity !== "any" ? { severity: [v.severity as "normal"] } : {}),
              ...(v.query?.trim() ? { query: v.query.trim() } : {}),
              ...(v.target?.trim() ? { target: v.target.trim() } : {}),
              ...(v.initiator?.trim() ? { initiator: v.initiator.trim() } : {}),
              ...(v.region?.trim() ? { region: v.region.trim() } : {}),
            };
            setFilters(next);
          }}
        />
      ) : mode === "detail" && list.current ? (
        <EventJson
          event={list.current.event}
          head={
            <Text bold wrap="truncate">
              {list.current.event.message}
            </Text>
          }
          scrollHeight={bodyHeight - 1}
          width={width}
          active={active}
          onBack={() => setMode("list")}
        />
      ) : (
        <Table<EventLine>
          columns={[
            {
              header: "✓",
              width: 1,
              value: (l) =>
                marks.marks?.verified.has(l._id) ? "✓" : marks.marks?.bad.has(l._id) ? "✗" : " ",
              color: (l) => (marks.marks?.bad.has(l._id) ? "red" : "green"),
            },
            { header: "TIME (UTC)", width: 19, value: (l) => formatSeconds(l._ts) },
            { header: "ACTION", width: 24, value: (l) => shortAction(l.event.action) },
            {
              header: "OUTCOME",
              width: 7,
              value: (l) => l.event.outcome,
              color: (l) =>
                l.event.outcome === "failure"
                  ? "red"
                  : l.event.outcome === "success"
                    ? "green"
                    : undefined,
            },
            { header: "TARGET", value: (l) => l.event.target.name },
          ]}
          rows={list.rows}
          selected={list.selected}
          rowKey={(l) => l._id}
          height={bodyHeight}
          width={width}
          empty={
            page.loading ? "" : "No events yet. They appear here once delivered to the tracker."
          }
        />
      )}
    </Box>
  );
}
