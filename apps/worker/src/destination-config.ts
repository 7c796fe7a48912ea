import { readFileSync } from "node:fs";
import { OUTCOMES, SEVERITIES } from "@berth/core";
import { ConfigError } from "@berth/service";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

const names = z.array(z.string().min(1, "must not be empty")).min(1, "must list at least one");

/** Which events a destination takes: every list present must hold the event's value. */
const filterSchema = z.strictObject({
  actions: names.optional(),
  outcomes: z.array(z.enum(OUTCOMES)).min(1).optional(),
  severities: z.array(z.enum(SEVERITIES)).min(1).optional(),
  accounts: names.optional(),
  regions: names.optional(),
});

const urlOf = (protocols: string[]) =>
  z.string().refine(
    (s) => {
      try {
        return protocols.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL with scheme ${protocols.map((p) => p.slice(0, -1)).join(" or ")}` },
  );

const common = {
  name: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,62}$/, "must be lowercase letters, digits and '-', 1-63 long")
    .refine(
      (n) => n !== "tracker",
      "'tracker' names the tracker destination, which is configured by BERTH_TRACKER_URL",
    ),
  filter: filterSchema.optional(),
  /** Events per claimed batch. */
  batchSize: z.int().min(1).max(10_000).optional(),
  /** Batches in flight at once (an ordered destination always has one). */
  concurrency: z.int().min(1).max(64).optional(),
  /** Attempts before an event is dead-lettered for this destination. */
  maxAttempts: z.int().min(1).max(1000).optional(),
};

const syslog = z.strictObject({
  ...common,
  type: z.literal("syslog"),
  /** tcp://host:port, or tls://host:port for RFC 5425. */
  url: urlOf(["tcp:", "tls:"]),
  /** PEM file of the CA that signed the receiver's certificate (tls only; default: the system's). */
  ca: z.string().min(1).optional(),
  /** RFC 5424 facility (default 13, log audit). */
  facility: z.int().min(0).max(23).optional(),
  appName: z
    .string()
    .regex(/^[!-~]{1,48}$/, "must be 1-48 printable ASCII characters without spaces")
    .optional(),
});

const webhook = z.strictObject({
  ...common,
  type: z.literal("webhook"),
  url: urlOf(["http:", "https:"]),
  /** The Standard Webhooks signing secret, `whsec_` and base64. */
  secret: z
    .string()
    .regex(
      /^whsec_[A-Za-z0-9+/]{22,}={0,2}$/,
      "must be whsec_ followed by a base64 key (at least 16 bytes)",
    ),
});

const cloudevents = z.strictObject({
  ...common,
  type: z.literal("cloudevents"),
  url: urlOf(["http:", "https:"]),
  /** Sent as the Authorization header (a secret: never logged). */
  authorization: z.string().min(1).optional(),
});

const jetstream = z.strictObject({
  ...common,
  type: z.literal("jetstream"),
  url: urlOf(["nats:", "tls:"]),
  subject: z.string().regex(/^[^\s*>]+$/, "must be a subject without spaces or wildcards"),
  /** A token for the server (a secret: never logged). */
  token: z.string().min(1).optional(),
});

const destinationSchema = z.discriminatedUnion("type", [syslog, webhook, cloudevents, jetstream]);
export type DestinationSpec = z.infer<typeof destinationSchema>;
export type DestinationType = DestinationSpec["type"];
export const DESTINATION_TYPES = ["syslog", "webhook", "cloudevents", "jetstream"] as const;

/** Syslog and JetStream see the order events arrive in, so theirs is kept (see docs/delivery.md). */
export const isOrdered = (d: DestinationSpec) => d.type === "syslog" || d.type === "jetstream";

/** Where a destination goes, for logs: scheme, host and port, never a user, password or query. */
export function describe(d: DestinationSpec): string {
  const u = new URL(d.url);
  return `${d.name} (${d.type} ${u.protocol}//${u.host})`;
}

/**
 * Parse the destinations file (JSON, or YAML when named .yaml/.yml). Every problem is reported
 * as `BERTH_DESTINATIONS: entry N (name): field: why`; values are never echoed, so a secret in
 * a mistyped field stays out of the error and the log.
 */
export function parseDestinations(text: string, yaml: boolean): DestinationSpec[] {
  let raw: unknown;
  try {
    raw = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    // Parser messages may quote the text around the error, secrets included.
    const where = /line (\d+)|position (\d+)/.exec((error as Error).message)?.[0];
    throw new ConfigError(
      `BERTH_DESTINATIONS: the file is not valid ${yaml ? "YAML" : "JSON"}${where ? ` (${where})` : ""}`,
    );
  }
  if (!Array.isArray(raw)) {
    throw new ConfigError("BERTH_DESTINATIONS: the file must hold a list of destinations");
  }
  const problems: string[] = [];
  const out: DestinationSpec[] = [];
  const seen = new Set<string>();
  raw.forEach((entry, i) => {
    const name =
      entry && typeof entry === "object" && typeof (entry as { name?: unknown }).name === "string"
        ? ` (${(entry as { name: string }).name.slice(0, 63)})`
        : "";
    const parsed = destinationSchema.safeParse(entry);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = issue.path.join(".") || "type";
        const why =
          issue.code === "invalid_union" || (issue.code === "invalid_value" && field === "type")
            ? `must be one of ${DESTINATION_TYPES.join(", ")}`
            : issue.code === "unrecognized_keys"
              ? `unknown field(s) ${issue.keys.join(", ")}`
              : issue.message;
        problems.push(`BERTH_DESTINATIONS: entry ${i + 1}${name}: ${field}: ${why}`);
      }
      return;
    }
    if (seen.has(parsed.data.name)) {
      problems.push(`BERTH_DESTINATIONS: entry ${i + 1}${name}: name: is used by an earlier entry`);
      return;
    }
    seen.add(parsed.data.name);
    const d = parsed.data;
    if (d.type === "syslog" && d.ca && new URL(d.url).protocol !== "tls:") {
      // A CA on a clear-text URL suggests TLS was meant: refuse rather than send in clear.
      problems.push(`BERTH_DESTINATIONS: entry ${i + 1}${name}: ca: is for tls:// URLs only`);
      return;
    }
    out.push(d);
  });
  if (problems.length > 0) throw new ConfigError(problems.join("\n"));
  return out;
}

export function loadDestinationsFile(path: string): DestinationSpec[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(
      `BERTH_DESTINATIONS: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? "error"}`,
    );
  }
  return parseDestinations(text, /\.ya?ml$/i.test(path));
}
