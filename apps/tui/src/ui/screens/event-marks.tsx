import { Text } from "ink";
import { useEffect, useState } from "react";
import { type EventLine, errorMessage } from "../../api";
import { keyLabel, type Marks, verifyShown } from "../../cli/verify/shown";
import { useUi } from "../context";
import type { ScreenProps } from "./types";

// The events screen's marks (issue 16): which shown events a verified checkpoint covers.

/** Re-verify while shown events wait for a checkpoint (one comes within about a second). */
const MARKS_RETRY_MS = 2_000;
const MARKS_RETRIES = 30;

/**
 * Marks for the shown events: the run of the log that holds them verified against the newest
 * signed checkpoint, again when the lines change and while some are not covered yet.
 */
export function useMarks(client: ScreenProps["client"], lines: EventLine[], region?: string) {
  const { url } = useUi();
  const [state, setState] = useState<{ marks?: Marks; error?: string }>({});
  const [retry, setRetry] = useState(0);
  const indexed = lines.some((l) => typeof l._logIndex === "number");
  const trigger = `${region}:${lines.length}:${lines[0]?._id}:${retry}`;
  // biome-ignore lint/correctness/useExhaustiveDependencies: the trigger says when the lines changed
  useEffect(() => {
    if (!indexed) return;
    let current = true;
    let again: ReturnType<typeof setTimeout> | undefined;
    const soon = setTimeout(() => {
      verifyShown(client, process.env, lines, region).then(
        (marks) => {
          if (!current) return;
          setState({ marks });
          const waiting = lines.some((l) => (l._logIndex ?? -1) >= marks.size);
          if (waiting && retry < MARKS_RETRIES)
            again = setTimeout(() => setRetry((n) => n + 1), MARKS_RETRY_MS);
        },
        (error: unknown) => {
          if (!current) return;
          setState({ error: errorMessage(error, url) });
          // The first checkpoint of a new log, or a tracker back from a restart, comes soon.
          if (retry < MARKS_RETRIES)
            again = setTimeout(() => setRetry((n) => n + 1), MARKS_RETRY_MS);
        },
      );
    }, 300);
    return () => {
      current = false;
      clearTimeout(soon);
      clearTimeout(again);
    };
  }, [trigger, client, url]);
  return state;
}

/** The line saying which checkpoint and key verified the marks, or what failed. */
export function MarksLine({ marks, error }: { marks?: Marks; error?: string }) {
  if (error) return <Text color="yellow">? log not verified: {error}</Text>;
  if (!marks) return <Text dimColor>verifying the log…</Text>;
  const by = `checkpoint ${marks.size}, key ${keyLabel(marks.key)}${marks.unpinned ? " (not pinned: run berth events-verify)" : " (pinned)"}`;
  if (marks.state === "failed")
    return (
      <Text color="red">
        ✗ LOG VERIFICATION FAILED ({by}): {marks.problems[0]}
        {marks.problems.length > 1 ? ` (+${marks.problems.length - 1} more)` : ""}
      </Text>
    );
  return (
    <Text color="green">
      ✓ {marks.verified.size} shown events verified against {by}
    </Text>
  );
}
