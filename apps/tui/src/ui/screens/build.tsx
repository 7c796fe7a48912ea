import { Spinner } from "@inkjs/ui";
import { Box, Text } from "ink";
import { type ReactNode, useEffect, useState, useSyncExternalStore } from "react";
import { formatBytes, truncate } from "../../format";
import { type BuildSession, type BuildView, RUNNING } from "../build-session";
import { Form, Pairs } from "../components";
import { useHelp, useKeys } from "../context";

/**
 * Screen 8: build an image. `n` opens the form (context folder, Dockerfile, tag, build args);
 * the steps then come in live, a failure is shown at its step with the Dockerfile line, and
 * the digest when the image is stored. The build belongs to the app's BuildSession, so it
 * goes on while other screens are shown.
 */

type Mode = "view" | "form";

interface Row {
  key: string;
  node: ReactNode;
}

/** Word-wrap `text` to lines of at most `width` characters. */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line === "") line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
    while (line.length > width) {
      lines.push(line.slice(0, width));
      line = line.slice(width);
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

function failureRows(v: BuildView, width: number, indent: string): Row[] {
  const f = v.failure!;
  const rows: Row[] = [];
  if (f.quoted !== undefined) {
    rows.push({
      key: "quoted",
      node: (
        <Text color="red" bold wrap="truncate">
          {truncate(`${indent}${f.quoted}`, width)}
        </Text>
      ),
    });
  }
  wrapText(`✗ ${f.message}`, width - indent.length).forEach((l, i) => {
    rows.push({
      key: `failure-${i}`,
      node: (
        <Text color="red" wrap="truncate">
          {indent}
          {l}
        </Text>
      ),
    });
  });
  return rows;
}

/** The steps as lines: each step, its info lines, and a failure under the step it is about. */
function stepRows(v: BuildView, width: number): Row[] {
  const rows: Row[] = [];
  const running = RUNNING.includes(v.phase);
  const failedAt =
    v.phase === "failed" && v.failure?.line !== undefined
      ? v.steps.findLast((s) => s.line === v.failure!.line)
      : undefined;
  v.steps.forEach((s, i) => {
    const last = i === v.steps.length - 1;
    const label = truncate(`${s.step}/${s.steps} ${s.instruction}`, width - 2);
    let node: ReactNode;
    if (s === failedAt) {
      node = (
        <Text color="red" wrap="truncate">
          ✗ {label}
        </Text>
      );
    } else if (last && running) {
      node = <Spinner label={label} />;
    } else if (last && (v.phase === "cancelled" || v.phase === "error" || v.phase === "failed")) {
      node = (
        <Text color="yellow" wrap="truncate">
          ○ {label}
        </Text>
      );
    } else {
      node = (
        <Text wrap="truncate">
          <Text color="green">✓</Text> {label}
        </Text>
      );
    }
    rows.push({ key: `step-${s.step}`, node });
    s.info.forEach((info, n) => {
      rows.push({
        key: `step-${s.step}-${n}`,
        node: (
          <Text dimColor wrap="truncate">
            {truncate(`    ${info}`, width)}
          </Text>
        ),
      });
    });
    if (s === failedAt) rows.push(...failureRows(v, width, "    "));
  });
  v.notes.forEach((note, n) => {
    rows.push({
      key: `note-${n}`,
      node: (
        <Text color="yellow" wrap="truncate">
          {truncate(`! ${note}`, width)}
        </Text>
      ),
    });
  });
  if (v.phase === "failed" && !failedAt) rows.push(...failureRows(v, width, ""));
  return rows;
}

function Header({ v, width }: { v: BuildView; width: number }) {
  const target = v.target ?? v.form.tag;
  const at = v.steps.at(-1);
  switch (v.phase) {
    case "idle":
      return (
        <Text dimColor wrap="truncate">
          No build yet: n builds an image from a Dockerfile and a context folder.
        </Text>
      );
    case "sending":
      return (
        <Spinner
          label={truncate(
            v.sent
              ? `Building ${target}: context sent (${v.sent.files} files, ${formatBytes(v.sent.bytes)})…`
              : `Sending the build context of ${target}…`,
            width - 3,
          )}
        />
      );
    case "building":
      return (
        <Spinner
          label={truncate(
            `Building ${target}${at ? ` · step ${at.step}/${at.steps}` : ""}…`,
            width - 3,
          )}
        />
      );
    case "done":
      return (
        <Text color="green" wrap="truncate">
          {truncate(
            `✓ Built ${v.result!.target}${v.result!.created ? "" : " (the repository already held this image)"}`,
            width,
          )}
        </Text>
      );
    case "failed":
      return (
        <Text color="red" wrap="truncate">
          {truncate(
            `✗ The build of ${target} failed${v.failure?.line !== undefined ? ` at line ${v.failure.line}` : ""} (${v.failure?.code})`,
            width,
          )}
        </Text>
      );
    case "cancelled":
      return (
        <Text color="yellow" wrap="truncate">
          {truncate(`○ The build of ${target} was cancelled`, width)}
        </Text>
      );
    case "error":
      return (
        <Text color="red" wrap="truncate">
          {truncate(`✗ ${v.error}`, width)}
        </Text>
      );
  }
}

export function BuildScreen({
  session,
  width,
  height,
  active,
}: {
  session: BuildSession;
  width: number;
  height: number;
  active: boolean;
}) {
  const v = useSyncExternalStore(session.subscribe, session.get);
  const [mode, setMode] = useState<Mode>("view");
  // Lines scrolled back from the end; the view follows the end until the user scrolls.
  const [back, setBack] = useState(0);
  const running = RUNNING.includes(v.phase);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new build starts at the end
  useEffect(() => setBack(0), [v.form]);
  useHelp(
    mode === "form"
      ? []
      : running
        ? [
            ["c", "cancel build"],
            ["↑↓", "scroll"],
          ]
        : v.phase === "idle"
          ? [["n", "new build"]]
          : [
              ["n", "new build"],
              ["r", "build again"],
              ["↑↓", "scroll"],
            ],
  );
  const rows = mode === "view" ? stepRows(v, width) : [];
  const footer: [string, string][] =
    v.phase === "done" && v.result
      ? [
          ["Digest", v.result.digest],
          [
            "Image",
            `${v.result.layers.length} layers (${v.result.layers.filter((l) => l.reused).length} reused) · ${formatBytes(v.result.size)} · base ${v.result.base.reference}`,
          ],
        ]
      : [];
  const listHeight = Math.max(1, height - 2 - (footer.length ? footer.length + 1 : 0));
  const maxBack = Math.max(0, rows.length - listHeight);
  const from = Math.max(0, rows.length - listHeight - Math.min(back, maxBack));
  useKeys(
    (input, key) => {
      if (key.upArrow || input === "k") setBack((b) => Math.min(maxBack, b + 1));
      else if (key.downArrow || input === "j") setBack((b) => Math.max(0, b - 1));
      else if (running) {
        if (input === "c") session.cancel();
      } else if (input === "n") setMode("form");
      else if (input === "r" && v.phase !== "idle") session.start(v.form);
    },
    active && mode === "view",
  );

  if (mode === "form") {
    return (
      <Box flexDirection="column" height={height}>
        <Header v={v} width={width} />
        <Form
          title="Build an image"
          width={width}
          fields={[
            {
              key: "context",
              label: "Context folder",
              initial: v.form.context,
              placeholder: `. (in ${truncate(process.cwd(), 40)})`,
            },
            {
              key: "dockerfile",
              label: "Dockerfile",
              initial: v.form.dockerfile,
              placeholder: "Dockerfile (a path in the context)",
            },
            { key: "tag", label: "Image", initial: v.form.tag, placeholder: "ns/repo:tag" },
            {
              key: "buildArgs",
              label: "Build args",
              initial: v.form.buildArgs,
              placeholder: "NAME=value NAME2=value",
            },
          ]}
          onCancel={() => setMode("view")}
          onSubmit={(values) => {
            setMode("view");
            session.start({
              context: values.context ?? "",
              dockerfile: values.dockerfile ?? "",
              tag: values.tag ?? "",
              buildArgs: values.buildArgs ?? "",
            });
          }}
        />
      </Box>
    );
  }
  return (
    <Box flexDirection="column" height={height}>
      <Header v={v} width={width} />
      <Text dimColor wrap="truncate">
        {v.phase === "idle"
          ? " "
          : truncate(
              `Context ${v.form.context || "."} · ${v.dockerfile ?? (v.form.dockerfile || "Dockerfile")}${v.sent ? ` · ${v.sent.files} files, ${formatBytes(v.sent.bytes)}` : ""}${from > 0 ? ` · ↑ ${from} more` : ""}`,
              width,
            )}
      </Text>
      <Box flexDirection="column" height={listHeight}>
        {rows.slice(from, from + listHeight).map((r) => (
          <Box key={r.key}>{r.node}</Box>
        ))}
      </Box>
      {footer.length ? (
        <Box flexDirection="column" marginTop={1}>
          <Pairs pairs={footer} width={width} />
        </Box>
      ) : null}
    </Box>
  );
}
