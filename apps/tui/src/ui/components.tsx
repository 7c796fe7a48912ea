import { PasswordInput, Spinner, TextInput } from "@inkjs/ui";
import { Box, Text } from "ink";
import { type ReactNode, useRef, useState } from "react";
import { truncate } from "../format";
import { type ActionState, type HelpItem, useCapture, useKeys } from "./context";

/** One line: what is running, or what the last action said (an error in red, in place). */
export function StatusLine({
  action,
  loading,
  loadError,
  width,
}: {
  action?: Pick<ActionState, "busy" | "error" | "notice">;
  loading?: string | false;
  loadError?: string;
  width: number;
}) {
  if (action?.busy) return <Spinner label={truncate(`${action.busy}…`, width - 3)} />;
  if (action?.error) return <Text color="red">{truncate(`✗ ${action.error}`, width)}</Text>;
  if (loadError) return <Text color="red">{truncate(`✗ ${loadError} (r retries)`, width)}</Text>;
  if (loading) return <Spinner label={truncate(`${loading}…`, width - 3)} />;
  if (action?.notice) return <Text color="green">{truncate(`✓ ${action.notice}`, width)}</Text>;
  return <Text> </Text>;
}

/**
 * StatusLine's `loading` and `loadError` for a load of a screen's data: "Loading …" only
 * until the first data arrives (a reload keeps what is on screen, quietly), its error
 * whenever there is one.
 */
export function loadStatus(
  load: { loading: boolean; data?: unknown; error?: string | undefined },
  label: string,
): { loading: string | false; loadError?: string } {
  return {
    loading: load.loading && !load.data && label,
    ...(load.error ? { loadError: load.error } : {}),
  };
}

/** Keys of the screen, then `tail` (the app's own keys), which always keeps its place. */
export function HelpBar({
  items,
  tail = [],
  width,
}: {
  items: HelpItem[];
  tail?: HelpItem[];
  width: number;
}) {
  const size = ([key, what]: HelpItem) => key.length + what.length + 3;
  const tailWidth = tail.reduce((n, i) => n + size(i), 0);
  const shown: HelpItem[] = [];
  let used = 0;
  for (const item of items) {
    if (used + size(item) > width - tailWidth) break;
    shown.push(item);
    used += size(item);
  }
  return (
    <Text wrap="truncate">
      {[...shown, ...tail].map(([key, what]) => (
        <Text key={key}>
          <Text color="cyan" bold>
            {key}
          </Text>
          <Text dimColor>{` ${what}  `}</Text>
        </Text>
      ))}
    </Text>
  );
}

/** A yes/no question before anything destructive: `y` goes ahead, `n` or Esc does not. */
export function Confirm({
  message,
  onYes,
  onNo,
  width,
}: {
  message: string;
  onYes(): void;
  onNo(): void;
  width: number;
}) {
  useCapture(true);
  useKeys((input, key) => {
    if (input === "y" || input === "Y") onYes();
    else if (input === "n" || input === "N" || key.escape) onNo();
  });
  return (
    <Box
      borderStyle="round"
      borderColor="yellow"
      paddingX={1}
      width={Math.min(width, 76)}
      flexDirection="column"
    >
      <Text color="yellow" wrap="wrap">
        {message}
      </Text>
      <Text>
        <Text color="cyan" bold>
          y
        </Text>
        <Text dimColor> yes </Text>
        <Text color="cyan" bold>
          n
        </Text>
        <Text dimColor>/</Text>
        <Text color="cyan" bold>
          Esc
        </Text>
        <Text dimColor> no</Text>
      </Text>
    </Box>
  );
}

export interface Field {
  key: string;
  label: string;
  kind?: "text" | "secret" | "choice";
  /** For choices: the options, the first being the default. */
  options?: string[];
  initial?: string;
  placeholder?: string;
}

/**
 * A small form: Tab/↓ and ↑ move between fields, Enter goes to the next field and submits
 * from the last, ←/→ or space change a choice, Esc cancels.
 */
export function Form({
  title,
  fields,
  onSubmit,
  onCancel,
  width,
}: {
  title: string;
  fields: Field[];
  onSubmit(values: Record<string, string>): void;
  onCancel(): void;
  width: number;
}) {
  useCapture(true);
  const [focus, setFocus] = useState(0);
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(
      fields.map((f) => [f.key, f.initial ?? (f.kind === "choice" ? f.options![0]! : "")]),
    ),
  );
  // The latest values, whatever render a handler's closure comes from.
  const latest = useRef(values);
  const set = (key: string, value: string) => {
    // @inkjs/ui's inputs call onChange from an effect on every render until the next key is
    // typed (their handler is new each render): a state update for an unchanged value would
    // render again, and loop until React gives up ("Maximum update depth exceeded").
    if (latest.current[key] === value) return;
    latest.current = { ...latest.current, [key]: value };
    setValues(latest.current);
  };
  const next = (submitted?: [string, string]) => {
    if (submitted) set(submitted[0], submitted[1]);
    if (focus >= fields.length - 1) onSubmit(latest.current);
    else setFocus(focus + 1);
  };
  useKeys((input, key) => {
    const field = fields[focus]!;
    if (key.escape) onCancel();
    else if (key.tab && key.shift) setFocus(Math.max(0, focus - 1));
    else if (key.tab || key.downArrow) setFocus(Math.min(fields.length - 1, focus + 1));
    else if (key.upArrow) setFocus(Math.max(0, focus - 1));
    else if (field.kind === "choice") {
      const options = field.options!;
      const at = options.indexOf(values[field.key]!);
      if (key.rightArrow || input === " ") set(field.key, options[(at + 1) % options.length]!);
      else if (key.leftArrow) set(field.key, options[(at - 1 + options.length) % options.length]!);
      else if (key.return) next();
    }
  });
  // "› " and a space before the input.
  const labelWidth = Math.max(...fields.map((f) => f.label.length)) + 3;
  return (
    <Box
      borderStyle="round"
      borderColor="cyan"
      paddingX={1}
      flexDirection="column"
      width={Math.min(width, 76)}
    >
      <Text bold>{title}</Text>
      {fields.map((f, i) => (
        <Box key={f.key}>
          <Box width={labelWidth} flexShrink={0}>
            <Text
              color={i === focus ? "cyan" : undefined}
            >{`${i === focus ? "›" : " "} ${f.label}`}</Text>
          </Box>
          {f.kind === "choice" ? (
            <Text>
              {f.options!.map((o) => (
                <Text
                  key={o}
                  inverse={o === values[f.key] && i === focus}
                  bold={o === values[f.key]}
                >
                  {o === values[f.key] ? `[${o}]` : ` ${o} `}
                </Text>
              ))}
            </Text>
          ) : f.kind === "secret" ? (
            <PasswordInput
              isDisabled={i !== focus}
              {...(f.placeholder ? { placeholder: f.placeholder } : {})}
              onChange={(v) => set(f.key, v)}
              onSubmit={(v) => next([f.key, v])}
            />
          ) : (
            <TextInput
              isDisabled={i !== focus}
              defaultValue={f.initial ?? ""}
              {...(f.placeholder ? { placeholder: f.placeholder } : {})}
              onChange={(v) => set(f.key, v)}
              onSubmit={(v) => next([f.key, v])}
            />
          )}
        </Box>
      ))}
      <Text dimColor>Tab/↑↓ move · Enter next/submit · ←→ choose · Esc cancel</Text>
    </Box>
  );
}

/** A usage bar: `███░░░ 12 MB of 512 MB (2%)`. */
export function UsageBar({
  label,
  used,
  limit,
  width,
  format,
}: {
  label: string;
  used: number;
  limit: number | null;
  width: number;
  format(n: number): string;
}) {
  const barWidth = Math.max(10, Math.min(40, width - 40));
  const ratio = limit === null || limit <= 0 ? 0 : Math.min(1, used / limit);
  const filled = Math.round(ratio * barWidth);
  const color = ratio >= 1 ? "red" : ratio >= 0.8 ? "yellow" : "green";
  return (
    <Box flexDirection="column">
      <Text bold>{label}</Text>
      <Text>
        <Text color={color}>{"█".repeat(filled)}</Text>
        <Text dimColor>{"░".repeat(barWidth - filled)}</Text>
        <Text>
          {" "}
          {format(used)} of {limit === null ? "unlimited" : format(limit)}
          {limit === null ? "" : ` (${Math.round(ratio * 100)}%)`}
        </Text>
      </Text>
    </Box>
  );
}

/** JSON (or any text) in a scrolling window: ↑↓ PgUp PgDn. */
export function Scroller({
  lines,
  height,
  width,
  active,
}: {
  lines: string[];
  height: number;
  width: number;
  active: boolean;
}) {
  const [top, setTop] = useState(0);
  const max = Math.max(0, lines.length - height);
  useKeys((input, key) => {
    if (key.upArrow || input === "k") setTop((t) => Math.max(0, t - 1));
    else if (key.downArrow || input === "j") setTop((t) => Math.min(max, t + 1));
    else if (key.pageUp) setTop((t) => Math.max(0, t - height));
    else if (key.pageDown || input === " ") setTop((t) => Math.min(max, t + height));
  }, active);
  const shown = lines.slice(Math.min(top, max), Math.min(top, max) + height);
  return (
    <Box flexDirection="column" height={height}>
      {shown.map((l, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: lines are positional
        <Text key={i} wrap="truncate">
          {truncate(l, width) || " "}
        </Text>
      ))}
    </Box>
  );
}

/**
 * An event in full: `head` over its JSON in a scrolling window of `scrollHeight` lines; Esc
 * or q goes back. It holds the keys while shown (the list behind it does not move).
 */
export function EventJson({
  event,
  head,
  scrollHeight,
  width,
  active,
  onBack,
}: {
  event: unknown;
  head: ReactNode;
  scrollHeight: number;
  width: number;
  active: boolean;
  onBack(): void;
}) {
  useCapture(active);
  useKeys((input, key) => {
    if (key.escape || input === "q") onBack();
  }, active);
  return (
    <Box flexDirection="column">
      {head}
      <Scroller
        lines={JSON.stringify(event, null, 2).split("\n")}
        height={scrollHeight}
        width={width}
        active={active}
      />
    </Box>
  );
}

export function Pairs({ pairs, width }: { pairs: [string, string][]; width: number }) {
  const w = Math.max(...pairs.map(([k]) => k.length)) + 2;
  return (
    <Box flexDirection="column">
      {pairs.map(([k, v]) => (
        <Text key={k} wrap="truncate">
          <Text dimColor>{k.padEnd(w)}</Text>
          {truncate(v, width - w)}
        </Text>
      ))}
    </Box>
  );
}
