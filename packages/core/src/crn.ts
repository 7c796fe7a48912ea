import { SERVICE_NAME } from "./actions";
import { type RegionName, regionByLocation, regionLocation } from "./regions";

const CRN_PREFIX = `crn:v1:bluemix:public:${SERVICE_NAME}:`;
// crn:v1:bluemix:public:<service>:<location>:a/<account>:<instance>:<type>:<resource>
// The resource comes last so that it alone may contain colons (ns/repo:tag).
const FIXED_SEGMENTS = 9;

export class InvalidCrnError extends Error {
  override readonly name = "InvalidCrnError";
}

export interface CrnInput {
  /** Cloud location; give either this or `region`. */
  readonly location?: string;
  readonly region?: RegionName;
  readonly account: string;
  /** Empty for a CRN of the service itself (logSourceCRN). */
  readonly resourceType: string;
  readonly resource: string;
}

export interface Crn {
  readonly location: string;
  readonly account: string;
  readonly resourceType: string;
  readonly resource: string;
}

export function formatCrn(input: CrnInput): string {
  const location = resolveLocation(input);
  checkSegment("location", location, { allowEmpty: false });
  checkSegment("account", input.account, { allowEmpty: false });
  checkSegment("resource type", input.resourceType, { allowEmpty: true });
  if (input.account.includes("/")) {
    throw new InvalidCrnError(`CRN account must not contain "/": "${input.account}"`);
  }
  if (/[\s\p{Cc}]/u.test(input.resource)) {
    throw new InvalidCrnError(
      `CRN resource must not contain whitespace or control characters: "${input.resource}" (see encodeCrnResource)`,
    );
  }
  return `${CRN_PREFIX}${location}:a/${input.account}::${input.resourceType}:${input.resource}`;
}

/**
 * CRNs already parsed, by text. The tracker checks two CRNs of every event it ingests, twice
 * each (the field's check and the cross-field rules), and most are repeats (one source CRN per
 * account and location): parsing was a fifth of an event's check. Bounded in entries (emptied
 * when full) and in each text's length, so a sender of huge CRNs cannot make it hold memory;
 * the parsed values are frozen, so no caller can change another's.
 */
const parsedCrns = new Map<string, Crn>();
const PARSED_CRNS_MAX = 4096;
const PARSED_CRN_MAX_LENGTH = 512;

export function parseCrn(text: string): Crn {
  const known = parsedCrns.get(text);
  if (known) return known;
  const crn = Object.freeze(parseNewCrn(text));
  if (text.length > PARSED_CRN_MAX_LENGTH) return crn;
  if (parsedCrns.size >= PARSED_CRNS_MAX) parsedCrns.clear();
  parsedCrns.set(text, crn);
  return crn;
}

function parseNewCrn(text: string): Crn {
  if (typeof text !== "string") throw new InvalidCrnError("CRN must be a string");
  if (!text.startsWith(CRN_PREFIX)) {
    throw new InvalidCrnError(`CRN must start with "${CRN_PREFIX}": "${text}"`);
  }
  const segments = text.split(":");
  if (segments.length < FIXED_SEGMENTS + 1) {
    throw new InvalidCrnError(
      `CRN must have ${FIXED_SEGMENTS + 1} colon-separated segments, found ${segments.length}: "${text}"`,
    );
  }
  const [, , , , , location = "", scope = "", instance = "", resourceType = ""] = segments;
  const resource = segments.slice(FIXED_SEGMENTS).join(":");
  if (location === "") throw new InvalidCrnError(`CRN has an empty location: "${text}"`);
  if (!scope.startsWith("a/") || scope.length <= 2 || scope.slice(2).includes("/")) {
    throw new InvalidCrnError(`CRN scope must be "a/<account>", got "${scope}": "${text}"`);
  }
  if (instance !== "") {
    throw new InvalidCrnError(`CRN service-instance segment must be empty, got "${instance}"`);
  }
  checkSegment("location", location, { allowEmpty: false });
  checkSegment("resource type", resourceType, { allowEmpty: true });
  if (/[\s\p{Cc}]/u.test(resource)) {
    throw new InvalidCrnError(
      `CRN resource must not contain whitespace or control characters: "${text}"`,
    );
  }
  return { location, account: scope.slice(2), resourceType, resource };
}

export function isCrn(text: unknown): text is string {
  if (typeof text !== "string") return false;
  try {
    parseCrn(text);
    return true;
  } catch {
    return false;
  }
}

/** The registry region a CRN belongs to; throws for locations no Berth region uses. */
export function crnRegion(text: string): RegionName {
  return regionByLocation(parseCrn(text).location);
}

const UNSAFE_IN_RESOURCE = /[^\x21-\x7e]|%/gu;
const utf8 = new TextEncoder();

/**
 * Make arbitrary text usable as a CRN resource by percent-encoding
 * whitespace, control and non-ASCII characters (and "%" itself). Failure
 * events name whatever the user typed, and a bad name must still be audited.
 */
export function encodeCrnResource(text: string): string {
  return text.replace(UNSAFE_IN_RESOURCE, (char) =>
    Array.from(
      utf8.encode(char),
      (byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`,
    ).join(""),
  );
}

/** CRN of the registry service itself in a region, used as the event's logSourceCRN. */
export function serviceCrn(region: RegionName, account: string): string {
  return formatCrn({ region, account, resourceType: "", resource: "" });
}

function resolveLocation(input: CrnInput): string {
  if (input.region !== undefined) {
    const fromRegion = regionLocation(input.region);
    if (input.location !== undefined && input.location !== fromRegion) {
      throw new InvalidCrnError(
        `location "${input.location}" disagrees with region ${input.region} (${fromRegion})`,
      );
    }
    return fromRegion;
  }
  if (input.location === undefined) throw new InvalidCrnError("CRN needs a location or a region");
  return input.location;
}

function checkSegment(what: string, value: string, opts: { allowEmpty: boolean }): void {
  if (typeof value !== "string") throw new InvalidCrnError(`CRN ${what} must be a string`);
  if (!opts.allowEmpty && value === "") throw new InvalidCrnError(`CRN ${what} must not be empty`);
  if (/[:\s]/.test(value)) {
    throw new InvalidCrnError(`CRN ${what} must not contain ":" or whitespace: "${value}"`);
  }
}
