import { Box, Text } from "ink";
import { useEffect, useState } from "react";
import type { DeadLetter } from "../../api";
import { formatDuration, formatTime, shortAction } from "../../format";
import { Confirm, EventJson, Pairs, StatusLine } from "../components";
import { useAction, useHelp, useKeys, useLoad } from "../context";
import { Table, useList } from "../table";
import type { ScreenProps } from "./types";

type Mode = "list" | "detail" | "redrive" | "redrive-all";

/** How often the backlog figures refresh while the screen is shown. */
const POLL_MS = 3000;

export function DeliveryScreen({ client, width, height, active }: ScreenProps) {
  const [mode, setMode] = useState<Mode>("list");
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setTick((t) => t + 1), POLL_MS);
    return () => clearInterval(timer);
  }, [active]);
  const status = useLoad(() => client.delivery.status.query(), `status:${tick}`);
  // Whose dead letters are listed and redriven: the tracker's, or a destination's beside it.
  const names = status.data?.destinations.map((d) => d.destination) ?? ["tracker"];
  const [destination, setDestination] = useState("tracker");
  const loaded = useLoad(
    async () => ({
      destination,
      rows: await client.delivery.dead.query({ limit: 500, destination }),
    }),
    `dead:${destination}`,
  );
  // The previous destination's rows are not shown (nor redriven) while the next one loads.
  const dead = {
    ...loaded,
    data: loaded.data?.destination === destination ? loaded.data.rows : undefined,
  };
  const action = useAction();
  // One key for marking and for drawing the mark: an event id can be dead at several destinations.
  const keyOf = (d: DeadLetter) => `${destination}:${d.id}`;
  const list = useList<DeadLetter>(dead.data ?? [], {
    active: active && mode === "list",
    text: (d) => `${d.id} ${d.action} ${d.reason ?? ""}`,
    key: keyOf,
    page: height - 6,
    multi: true,
  });
  useHelp(
    mode === "list"
      ? [
          ["↑↓", "move"],
          ["enter", "details"],
          ...(names.length > 1 ? ([["d", "destination"]] as [string, string][]) : []),
          ["space", "mark"],
          ["R", "redrive"],
          ["A", "redrive all"],
          ["/", "filter"],
          ["r", "refresh"],
        ]
      : mode === "detail"
        ? [
            ["↑↓", "scroll"],
            ["Esc", "back"],
          ]
        : [],
  );
  const reload = () => {
    status.reload();
    dead.reload();
  };
  useKeys(
    (input, key) => {
      if (input === "r") {
        action.clear();
        reload();
      } else if (input === "R" && list.targets.length > 0) setMode("redrive");
      else if (input === "A" && (dead.data?.length ?? 0) > 0) setMode("redrive-all");
      else if (input === "d" && names.length > 1) {
        list.clearMarks();
        setDestination(names[(names.indexOf(destination) + 1) % names.length]!);
      } else if (key.return && list.current) setMode("detail");
    },
    active && mode === "list" && !list.filtering,
  );
  const s = status.data;
  // Named only where there is a choice: with the tracker alone the screen reads as before.
  const to = names.length > 1 ? ` to ${destination}` : "";
  const ids = list.targets.map((d) => d.id);
  const filterBar = list.filterBar(width);
  // One more line when destinations beside the tracker are listed (pending/dead per destination).
  const bodyHeight = height - 3 - (filterBar ? 1 : 0) - ((s?.destinations.length ?? 0) > 1 ? 1 : 0);
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate">
        <Text bold>Delivery</Text>
        {s ? (
          <Text>
            <Text dimColor> · pending </Text>
            <Text color={s.pending > 0 ? "yellow" : "green"}>{s.pending}</Text>
            <Text dimColor> · dead </Text>
            <Text color={s.dead > 0 ? "red" : "green"}>{s.dead}</Text>
            <Text dimColor> · lag </Text>
            <Text>{s.pending > 0 ? formatDuration(s.lagMs) : "none"}</Text>
          </Text>
        ) : null}
      </Text>
      {s && s.destinations.length > 1 ? (
        <Text wrap="truncate">
          {s.destinations.map((d) => (
            <Text key={d.destination}>
              <Text dimColor={d.destination !== destination} bold={d.destination === destination}>
                {d.destination}{" "}
              </Text>
              <Text color={d.dead > 0 ? "red" : d.pending > 0 ? "yellow" : "green"}>
                {d.pending}/{d.dead}
              </Text>
              <Text dimColor>{d.pending > 0 ? ` ${formatDuration(d.lagMs)}` : ""} · </Text>
            </Text>
          ))}
        </Text>
      ) : null}
      <StatusLine
        action={action}
        loading={(dead.loading || status.loading) && !dead.data && "Loading delivery status"}
        {...(dead.error || status.error ? { loadError: dead.error ?? status.error } : {})}
        width={width}
      />
      <Text bold>
        Dead letters
        {names.length > 1 ? <Text color="cyan"> · {destination}</Text> : null}
        {list.marked.size > 0 ? <Text color="magenta"> · {list.marked.size} marked</Text> : null}
      </Text>
      {filterBar}
      {mode === "detail" && list.current ? (
        <DeadDetail
          dead={list.current}
          width={width}
          height={bodyHeight}
          active={active}
          onBack={() => setMode("list")}
        />
      ) : mode === "redrive" || mode === "redrive-all" ? (
        <Confirm
          width={width}
          message={
            mode === "redrive-all"
              ? `Send all ${dead.data?.length ?? 0} dead event(s) of the account${to} again?`
              : `Send ${ids.length === 1 ? `event ${ids[0]}` : `${ids.length} events`}${to} again?`
          }
          onNo={() => setMode("list")}
          onYes={() => {
            const all = mode === "redrive-all";
            setMode("list");
            action.run(
              "Redriving",
              () => client.delivery.redrive.mutate(all ? { destination } : { ids, destination }),
              (r) => {
                list.clearMarks();
                reload();
                return `${r.redriven} event(s) sent back for delivery${to}`;
              },
            );
          }}
        />
      ) : (
        <Table<DeadLetter>
          columns={[
            { header: "EVENT", width: 8, value: (d) => d.id.slice(0, 8) },
            { header: "ACTION", width: 22, value: (d) => shortAction(d.action) },
            { header: "TRIES", width: 5, value: (d) => String(d.attempts), align: "right" },
            { header: "REASON", value: (d) => d.reason ?? "-" },
          ]}
          rows={list.rows}
          selected={list.selected}
          marked={list.marked}
          rowKey={keyOf}
          height={bodyHeight}
          width={width}
          empty={
            dead.data
              ? `No dead letters for ${destination}: every event was delivered or is on its way.`
              : ""
          }
        />
      )}
    </Box>
  );
}

function DeadDetail({
  dead,
  width,
  height,
  active,
  onBack,
}: {
  dead: DeadLetter;
  width: number;
  height: number;
  active: boolean;
  onBack(): void;
}) {
  const pairs: [string, string][] = [
    ["Event", dead.id],
    ["Action", dead.action],
    ["Region", dead.region],
    ["Attempts", String(dead.attempts)],
    ["Dead since", formatTime(dead.deadAt)],
  ];
  return (
    <EventJson
      event={dead.event}
      head={
        <>
          <Pairs pairs={pairs} width={width} />
          <Text color="red" wrap="truncate">
            Reason: {dead.reason ?? "-"}
          </Text>
        </>
      }
      scrollHeight={Math.max(1, height - pairs.length - 1)}
      width={width}
      active={active}
      onBack={onBack}
    />
  );
}
