import { OUTCOMES, SEVERITIES } from "@berth/core";
import { z } from "zod";

export const MAX_EXPORT_SIZE = 10_000;
export const DEFAULT_EXPORT_SIZE = 100;

/** Comma-separated list or repeated parameter → list of strings. */
const list = <T extends z.ZodType<string, string>>(item: T) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((v) =>
      (Array.isArray(v) ? v : [v])
        .flatMap((s) => s.split(","))
        .map((s) => s.trim())
        .filter((s) => s !== ""),
    )
    .pipe(z.array(item));

/**
 * A time bound: Unix seconds or milliseconds (as the export API takes them: values below
 * 10^11 are seconds) or an ISO-8601 instant. Parsed to ms.
 */
const instant = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const text = String(v).trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    return n < 1e11 ? Math.round(n * 1000) : Math.round(n);
  }
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: "custom", message: `"${text}" is not a Unix time or ISO-8601 instant` });
    return z.NEVER;
  }
  return ms;
});

/** Filters shared by export and tail. */
export const eventFilterSchema = z.object({
  account: z.string().min(1, "account is required"),
  /** Free text, matched case-insensitively against the message and the event. */
  query: z.string().max(500).optional(),
  action: list(z.string().min(1)).optional(),
  outcome: list(z.enum(OUTCOMES)).optional(),
  severity: list(z.enum(SEVERITIES)).optional(),
  /** Initiator id or name, exactly. */
  initiator: z.string().min(1).optional(),
  /** Target CRN or name, exactly; a trailing `*` matches names by prefix. */
  target: z.string().min(1).optional(),
});
export type EventFilter = z.input<typeof eventFilterSchema>;
export type ParsedEventFilter = z.output<typeof eventFilterSchema>;

export const exportQuerySchema = eventFilterSchema.extend({
  from: instant.optional(),
  to: instant.optional(),
  size: z.coerce.number().int().min(1).max(MAX_EXPORT_SIZE).default(DEFAULT_EXPORT_SIZE),
  pagination_id: z.string().min(1).optional(),
});
export type ExportQuery = z.input<typeof exportQuerySchema>;
export type ParsedExportQuery = z.output<typeof exportQuerySchema>;

export const tailQuerySchema = eventFilterSchema;
export type TailQuery = z.input<typeof tailQuerySchema>;
