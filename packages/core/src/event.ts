import { z } from "zod";
import {
  ACTION_NAMES,
  ACTIONS,
  type ActionName,
  actionMessage,
  FAILURE_SUFFIX,
  MESSAGE_PREFIX,
} from "./actions";
import { type Crn, encodeCrnResource, formatCrn, isCrn, parseCrn } from "./crn";
import { EVENT_TIME_PATTERN, formatEventTime, isRealEventTime } from "./event-time";
import { jsonDataIssue } from "./json-data";
import { type RegionName, regionByLocation } from "./regions";
import { assertNoSecrets, containsSecrets } from "./secrets";
import {
  failureSeverity,
  isStatusCode,
  reasonType,
  type Severity,
  severitySchema,
} from "./severity";
import { crnResourceType, TARGET_TYPES, type TargetType, targetTypeSchema } from "./targets";
import { isUuidV7 } from "./uuid";

export const OUTCOMES = ["success", "failure", "pending"] as const;
export type Outcome = (typeof OUTCOMES)[number];
export const outcomeSchema = z.enum(OUTCOMES);

export const INITIATOR_TYPE_URIS = [
  "service/security/account/user",
  "service/security/account/serviceid",
] as const;
export const CREDENTIAL_TYPES = ["apikey", "token", "user"] as const;
export type CredentialType = (typeof CREDENTIAL_TYPES)[number];

const crnSchema = z.string().refine(isCrn, { message: "must be a container-registry CRN" });
const dataSchema = z
  .record(z.string(), z.unknown())
  // First, and aborting: the secrets walk recurses, and a 1e400 would be stored as null.
  .refine((data) => jsonDataIssue(data) === undefined, {
    error: (issue) => jsonDataIssue(issue.input) ?? "is not JSON data",
    abort: true,
  })
  .refine((data) => !containsSecrets(data), { message: "must not carry secrets" });

// Built once: a schema made inside the refinement would be built again for every event checked.
const ipv4Schema = z.ipv4();
const ipv6Schema = z.ipv6();

export const hostSchema = z
  .strictObject({
    address: z.string(),
    addressType: z.enum(["IPv4", "IPv6"]),
    agent: z.string(),
  })
  .superRefine((host, ctx) => {
    const valid = (host.addressType === "IPv4" ? ipv4Schema : ipv6Schema).safeParse(host.address);
    if (!valid.success) {
      ctx.addIssue({
        code: "custom",
        path: ["address"],
        message: `"${host.address}" is not an ${host.addressType} address`,
      });
    }
  });
export type Host = z.infer<typeof hostSchema>;

export const initiatorSchema = z.strictObject({
  id: z.string().min(1),
  name: z.string(),
  typeURI: z.enum(INITIATOR_TYPE_URIS),
  credential: z.strictObject({ type: z.enum(CREDENTIAL_TYPES) }),
  host: hostSchema,
});
export type Initiator = z.infer<typeof initiatorSchema>;

export const eventSchema = z
  .strictObject({
    id: z.string().refine(isUuidV7, { message: "must be a UUIDv7" }),
    eventTime: z
      .string()
      .regex(EVENT_TIME_PATTERN, {
        message: "must look like 2019-06-01T12:34:56.78+0000",
        abort: true,
      })
      // A 30 February would pass the pattern and then fail the tracker's whole batch.
      .refine(isRealEventTime, { message: "is not a real calendar instant" }),
    action: z.enum(ACTION_NAMES),
    outcome: outcomeSchema,
    severity: severitySchema,
    dataEvent: z.boolean(),
    message: z.string().startsWith(MESSAGE_PREFIX),
    initiator: initiatorSchema,
    target: z.strictObject({
      id: crnSchema,
      // May be empty or odd: a failed create is audited with whatever name was typed.
      name: z.string(),
      typeURI: targetTypeSchema,
    }),
    observer: z.strictObject({ name: z.literal("ActivityTracker") }),
    reason: z.strictObject({
      reasonCode: z.int().refine(isStatusCode, { message: "must be an HTTP status" }),
      reasonType: z.string().min(1),
      reasonForFailure: z.string().min(1).optional(),
    }),
    requestData: dataSchema.optional(),
    responseData: dataSchema.optional(),
    logSourceCRN: crnSchema,
    saveServiceCopy: z.boolean(),
    correlationId: z.string().min(1),
  })
  // Cross-field rules: an event that contradicts the catalog or itself would
  // mislead whoever reads the audit trail, so it never gets into the outbox.
  .superRefine((event, ctx) => {
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: "custom", path, message });
    const action = ACTIONS[event.action];
    if (event.dataEvent !== action.dataEvent) {
      issue(["dataEvent"], `must be ${action.dataEvent} for ${event.action}`);
    }
    const code = event.reason.reasonCode;
    if (!isStatusCode(code)) return;
    const failed = event.outcome === "failure";
    if (failed !== code >= 400) {
      issue(
        ["reason", "reasonCode"],
        `${code} contradicts outcome ${event.outcome} (failures have a 4xx/5xx code)`,
      );
    }
    const expected = failed ? failureSeverity(code) : action.successSeverity;
    if (event.severity !== expected) {
      issue(["severity"], `must be ${expected} for ${event.action} ${event.outcome} ${code}`);
    }
    if (failed !== event.message.endsWith(FAILURE_SUFFIX)) {
      issue(["message"], `must end with "${FAILURE_SUFFIX}" exactly when the outcome is failure`);
    }
    if (failed && event.reason.reasonForFailure === undefined) {
      issue(["reason", "reasonForFailure"], "is required when the outcome is failure");
    }
    if (!failed && event.reason.reasonForFailure !== undefined) {
      issue(["reason", "reasonForFailure"], `must be absent when the outcome is ${event.outcome}`);
    }
    // Each CRN parsed once here (the tracker checks every line it ingests with this schema).
    const target = crnOrUndefined(event.target.id);
    const source = crnOrUndefined(event.logSourceCRN);
    if (target && source) {
      if (target.location !== source.location || target.account !== source.account) {
        issue(["logSourceCRN"], "must name the same location and account as target.id");
      }
      if (target.resourceType !== crnResourceType(event.target.typeURI)) {
        issue(["target", "id"], `resource type must match typeURI ${event.target.typeURI}`);
      }
    }
  });

export type AtEvent = z.infer<typeof eventSchema>;

function crnOrUndefined(text: string): Crn | undefined {
  try {
    return parseCrn(text);
  } catch {
    return undefined;
  }
}

export interface BuildEventInput {
  /** UUIDv7 chosen by the caller; it is also the delivery idempotency key. */
  readonly id: string;
  readonly time: Date;
  readonly action: ActionName;
  readonly outcome: Outcome;
  /** Region of the registry holding the resource (or serving an account-level request). */
  readonly region: RegionName;
  readonly account: string;
  readonly initiator: Initiator;
  readonly target: {
    readonly type?: TargetType;
    readonly name: string;
    /** Resource name inside the CRN when it differs from `name` (an image by digest). */
    readonly crnName?: string;
  };
  readonly reasonCode: number;
  /** Defaults to the status text on failure. */
  readonly reasonForFailure?: string;
  /** What the message names after the verb and object, e.g. "birds". */
  readonly messageDetail?: string;
  readonly requestData?: Record<string, unknown>;
  readonly responseData?: Record<string, unknown>;
  readonly correlationId: string;
}

export function buildEvent(input: BuildEventInput): AtEvent {
  if (input.requestData !== undefined) assertNoSecrets(input.requestData, "requestData");
  if (input.responseData !== undefined) assertNoSecrets(input.responseData, "responseData");
  const action = ACTIONS[input.action];
  if (!action) throw new Error(`unknown action "${input.action}"`);
  const failed = input.outcome === "failure";
  const typeURI = input.target.type ?? action.targetType;
  const severity: Severity = failed ? failureSeverity(input.reasonCode) : action.successSeverity;
  const event: AtEvent = {
    id: input.id,
    eventTime: formatEventTime(input.time),
    action: input.action,
    outcome: input.outcome,
    severity,
    dataEvent: action.dataEvent,
    message: actionMessage(input.action, input.messageDetail, failed),
    initiator: input.initiator,
    target: {
      id: formatCrn({
        region: input.region,
        account: input.account,
        resourceType: crnResourceType(typeURI),
        resource: encodeCrnResource(input.target.crnName ?? input.target.name),
      }),
      name: input.target.name,
      typeURI,
    },
    observer: { name: "ActivityTracker" },
    reason: {
      reasonCode: input.reasonCode,
      reasonType: reasonType(input.reasonCode),
      ...(failed
        ? { reasonForFailure: input.reasonForFailure || reasonType(input.reasonCode) }
        : {}),
    },
    ...(input.requestData !== undefined ? { requestData: input.requestData } : {}),
    ...(input.responseData !== undefined ? { responseData: input.responseData } : {}),
    logSourceCRN: formatCrn({
      region: input.region,
      account: input.account,
      resourceType: "",
      resource: "",
    }),
    saveServiceCopy: true,
    correlationId: input.correlationId,
  };
  const stored = storable(event);
  // Nearly every event is one the schema must take; checking it whole costs more than the
  // rest of building it (its CRNs and time are formatted here, then parsed back by it).
  if (stored === event && surelyValid(input, event)) return event;
  const parsed = eventSchema.safeParse(stored);
  if (!parsed.success) {
    throw new InvalidEventError(parsed.error);
  }
  return parsed.data;
}

const TARGET_TYPE_SET: ReadonlySet<string> = new Set(TARGET_TYPES);
const OUTCOME_SET: ReadonlySet<string> = new Set(OUTCOMES);

/**
 * Whether a built event is sure to pass eventSchema, judged only on what the caller chose
 * (ids, time, codes, texts, data, initiator): the rest comes from the catalog and the CRN and
 * time formatters, which make only what the schema takes (formatCrn refuses an account a CRN
 * cannot hold). Conservative: any doubt (a year before 1000, data that is not a plain
 * object) sends the event through the whole schema, which then decides, and names what is
 * wrong. core's tests check, over arbitrary inputs, that an event returned here always
 * passes the schema. The event shares the caller's initiator and data objects (the schema's
 * copy is skipped with it): callers build them for the event and do not change them after.
 */
function surelyValid(input: BuildEventInput, event: AtEvent): boolean {
  const failed = event.outcome === "failure";
  return (
    isUuidV7(event.id) &&
    input.time.getUTCFullYear() >= 1000 &&
    OUTCOME_SET.has(event.outcome) &&
    // The code is a status (reasonType refused any other); the rest follows from these.
    failed === event.reason.reasonCode >= 400 &&
    event.message.endsWith(FAILURE_SUFFIX) === failed &&
    TARGET_TYPE_SET.has(event.target.typeURI) &&
    nonEmpty(event.correlationId) &&
    plainData(event.requestData) &&
    plainData(event.responseData) &&
    initiatorSchema.safeParse(event.initiator).success
  );
}

function nonEmpty(value: unknown): boolean {
  return typeof value === "string" && value.length > 0;
}

/** Absent, or a plain object JSON can carry (the secrets were refused before building). */
function plainData(data: unknown): boolean {
  if (data === undefined) return true;
  if (data === null || typeof data !== "object") return false;
  const proto = Object.getPrototypeOf(data);
  return (proto === Object.prototype || proto === null) && jsonDataIssue(data) === undefined;
}

/**
 * The event with every NUL character and every lone UTF-16 surrogate (in a value or a key)
 * replaced by U+FFFD. Events quote what callers sent (a target name, a refusal's reason), and
 * Postgres' JSON takes neither (nor does RFC 8785, which the tracker's log hashes): an event
 * holding one could not be stored, so the attempt it records would go unaudited.
 */
function storable<T>(value: T): T {
  // Copied only when one is there: nearly no event holds one, and a copy of every event
  // would cost more than the walk that finds none.
  return holdsUnstorableText(value) ? replaceUnstorable(value) : value;
}

/** Whether a string holds what Postgres' JSON cannot store: NUL, or a lone surrogate. */
function isUnstorableText(text: string): boolean {
  return text.includes("\u0000") || !text.isWellFormed();
}

/** Whether a value holds such a string, as a key or a value, at any depth. */
export function holdsUnstorableText(value: unknown): boolean {
  if (typeof value === "string") return isUnstorableText(value);
  if (value === null || typeof value !== "object") return false;
  if (Array.isArray(value)) return value.some(holdsUnstorableText);
  for (const [key, item] of Object.entries(value)) {
    if (isUnstorableText(key) || holdsUnstorableText(item)) return true;
  }
  return false;
}

function replaceUnstorable<T>(value: T): T {
  if (typeof value === "string") {
    return (
      isUnstorableText(value) ? value.toWellFormed().replaceAll("\u0000", "\uFFFD") : value
    ) as T;
  }
  if (Array.isArray(value)) return value.map(replaceUnstorable) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [replaceUnstorable(k), replaceUnstorable(v)]),
    ) as T;
  }
  return value;
}

export class InvalidEventError extends Error {
  override readonly name = "InvalidEventError";
  constructor(readonly zodError: z.ZodError) {
    super(`invalid event: ${z.prettifyError(zodError)}`, { cause: zodError });
  }
}

/** The registry region of an event, read back from its target CRN (CADF has no region field). */
export function eventRegion(event: Pick<AtEvent, "target">): RegionName {
  return regionByLocation(parseCrn(event.target.id).location);
}

/** The account that owns the event; the tracker files it under this account's domain. */
export function eventAccount(event: Pick<AtEvent, "target">): string {
  return parseCrn(event.target.id).account;
}

export function eventTargetCrn(event: Pick<AtEvent, "target">): Crn {
  return parseCrn(event.target.id);
}

/**
 * Initiator host fields from a socket address. Node reports IPv4 clients on
 * dual-stack sockets as "::ffff:a.b.c.d"; the tracker should show them as
 * the IPv4 addresses users know.
 */
export function hostFromAddress(address: string, agent: string): Host {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  const plain = mapped?.[1] ?? address;
  return {
    address: plain,
    addressType: ipv4Schema.safeParse(plain).success ? "IPv4" : "IPv6",
    agent,
  };
}
