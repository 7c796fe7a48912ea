import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ACTION_NAMES,
  ACTIONS,
  type AtEvent,
  type BuildEventInput,
  buildEvent,
  eventAccount,
  eventRegion,
  eventSchema,
  failureSeverity,
  hostFromAddress,
  type Initiator,
  InvalidEventError,
  parseCrn,
  REGION_NAMES,
  SecretInEventDataError,
  uuidV7,
} from "../src/index";

const ID = "01890a5d-ac96-774b-bcce-b302099a8057";
const DIGEST = `sha256:${"ab".repeat(32)}`;

const initiator: Initiator = {
  id: "IBMid-310000ABCD",
  name: "alice@example.com",
  typeURI: "service/security/account/user",
  credential: { type: "apikey" },
  host: { address: "192.0.2.10", addressType: "IPv4", agent: "podman/4.9.3" },
};

const base: BuildEventInput = {
  id: ID,
  time: new Date("2019-06-01T12:34:56.789Z"),
  action: "container-registry.namespace.create",
  outcome: "success",
  region: "ap-north",
  account: "a1b2c3",
  initiator,
  target: { name: "birds" },
  reasonCode: 201,
  messageDetail: "birds",
  correlationId: "req-42",
};

describe("buildEvent", () => {
  it("builds the design's namespace.create event", () => {
    expect(buildEvent(base)).toEqual({
      id: ID,
      eventTime: "2019-06-01T12:34:56.78+0000",
      action: "container-registry.namespace.create",
      outcome: "success",
      severity: "normal",
      dataEvent: false,
      message: "Container Registry: create namespace birds",
      initiator,
      target: {
        id: "crn:v1:bluemix:public:container-registry:jp-tok:a/a1b2c3::namespace:birds",
        name: "birds",
        typeURI: "container-registry/namespace",
      },
      observer: { name: "ActivityTracker" },
      reason: { reasonCode: 201, reasonType: "Created" },
      logSourceCRN: "crn:v1:bluemix:public:container-registry:jp-tok:a/a1b2c3:::",
      saveServiceCopy: true,
      correlationId: "req-42",
    });
  });

  it("marks failures in message, severity and reason", () => {
    const event = buildEvent({
      ...base,
      outcome: "failure",
      reasonCode: 409,
      reasonForFailure: "namespace birds already exists in ap-north",
    });
    expect(event.message).toBe("Container Registry: create namespace birds -failure");
    expect(event.severity).toBe("warning");
    expect(event.reason).toEqual({
      reasonCode: 409,
      reasonType: "Conflict",
      reasonForFailure: "namespace birds already exists in ap-north",
    });
    const forbidden = buildEvent({ ...base, outcome: "failure", reasonCode: 403 });
    expect(forbidden.severity).toBe("critical");
    expect(forbidden.reason.reasonForFailure).toBe("Forbidden");
  });

  it("names an image by what was requested and identifies it by digest", () => {
    const event = buildEvent({
      ...base,
      action: "container-registry.image.push",
      region: "us-south",
      target: { name: "birds/parrot:1.0", crnName: `birds/parrot@${DIGEST}` },
      messageDetail: "birds/parrot:1.0",
      requestData: { mediaType: "application/vnd.oci.image.manifest.v1+json", size: 1234 },
    });
    expect(event.dataEvent).toBe(true);
    expect(event.target.typeURI).toBe("container-registry/image");
    expect(event.target.name).toBe("birds/parrot:1.0");
    expect(parseCrn(event.target.id).resource).toBe(`birds/parrot@${DIGEST}`);
    expect(event.message).toBe("Container Registry: push image birds/parrot:1.0");
    expect(event.requestData).toEqual({
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      size: 1234,
    });
    expect(eventRegion(event)).toBe("us-south");
    expect(eventAccount(event)).toBe("a1b2c3");
  });

  it("audits failed attempts even when the name typed is garbage", () => {
    const event = buildEvent({
      ...base,
      outcome: "failure",
      reasonCode: 400,
      target: { name: "My Birds%" },
      messageDetail: "My Birds%",
    });
    expect(event.target.name).toBe("My Birds%");
    expect(parseCrn(event.target.id).resource).toBe("My%20Birds%25");
    expect(
      buildEvent({ ...base, outcome: "failure", reasonCode: 400, target: { name: "" } }).target
        .name,
    ).toBe("");
  });

  it("lets the caller override the target type", () => {
    const event = buildEvent({
      ...base,
      action: "container-registry.image.list",
      target: { type: "container-registry/namespace", name: "birds" },
    });
    expect(event.target.typeURI).toBe("container-registry/namespace");
    expect(parseCrn(event.target.id).resourceType).toBe("namespace");
  });

  it("refuses secrets in request and response data", () => {
    expect(() => buildEvent({ ...base, requestData: { password: "hunter2" } })).toThrow(
      SecretInEventDataError,
    );
    expect(() =>
      buildEvent({
        ...base,
        action: "container-registry.registrytoken.create",
        responseData: { id: "t-1", token: "s3cr3t" },
      }),
    ).toThrow(/responseData\.token/);
  });

  it("refuses inputs that cannot make a valid event", () => {
    expect(() => buildEvent({ ...base, id: "01890a5d-ac96-474b-bcce-b302099a8057" })).toThrow(
      InvalidEventError,
    );
    expect(() => buildEvent({ ...base, reasonCode: 404 })).toThrow(/contradicts outcome success/);
    expect(() => buildEvent({ ...base, outcome: "failure", reasonCode: 200 })).toThrow(
      /contradicts outcome failure/,
    );
    expect(() =>
      buildEvent({
        ...base,
        initiator: { ...initiator, host: { ...initiator.host, address: "::1" } },
      }),
    ).toThrow(/not an IPv4 address/);
  });
});

describe("buildEvent and NUL characters", () => {
  it("replaces NUL in whatever the event quotes, so that it can be stored and delivered", () => {
    const event = buildEvent({
      ...base,
      outcome: "failure",
      reasonCode: 400,
      target: { name: "a\u0000b" },
      messageDetail: "a\u0000b",
      reasonForFailure: 'image "a\u0000b" is not valid',
      requestData: { "k\u0000": ["v\u0000"] },
    });
    expect(JSON.stringify(event)).not.toMatch(/\\u0000/);
    expect(event.target.name).toBe("a\uFFFDb");
    expect(event.reason.reasonForFailure).toBe('image "a\uFFFDb" is not valid');
    expect(event.requestData).toEqual({ "k\uFFFD": ["v\uFFFD"] });
  });
});

describe("buildEvent and lone surrogates", () => {
  it("replaces a lone UTF-16 surrogate, which Postgres' JSON and RFC 8785 refuse, and keeps pairs", () => {
    const event = buildEvent({
      ...base,
      outcome: "failure",
      reasonCode: 400,
      target: { name: "a\ud800b\u{1F600}" },
      requestData: { "k\udfff": ["v\ud83d"] },
    });
    expect(event.target.name).toBe("a\uFFFDb\u{1F600}");
    expect(event.requestData).toEqual({ "k\uFFFD": ["v\uFFFD"] });
  });
});

describe("eventSchema", () => {
  const good: AtEvent = buildEvent(base);
  const accepts = (event: unknown) => eventSchema.safeParse(event).success;

  it("takes as data only what JSON can carry, to a bounded depth", () => {
    const nested = (depth: number): unknown => (depth === 0 ? 1 : [nested(depth - 1)]);
    expect(accepts({ ...good, requestData: { n: 1.5, deep: nested(31) } })).toBe(true);
    const issues = (data: unknown) =>
      eventSchema.safeParse({ ...good, requestData: data }).error?.issues.map((i) => i.message);
    expect(issues({ deep: nested(32) })).toEqual(["nests deeper than 32 levels"]);
    expect(issues({ n: [Number.POSITIVE_INFINITY] })).toEqual(["holds a number JSON cannot write"]);
    expect(issues({ n: Number.NaN })).toEqual(["holds a number JSON cannot write"]);
    // Far past any stack: refused before anything walks it recursively.
    let deep: unknown = 0;
    for (let i = 0; i < 1_000_000; i++) deep = [deep];
    expect(issues({ deep })).toEqual(["nests deeper than 32 levels"]);
  });

  it("rejects events that contradict the catalog or themselves", () => {
    expect(accepts(good)).toBe(true);
    expect(accepts({ ...good, severity: "critical" })).toBe(false);
    expect(accepts({ ...good, dataEvent: true })).toBe(false);
    expect(accepts({ ...good, message: `${good.message} -failure` })).toBe(false);
    expect(accepts({ ...good, region: "ap-north" })).toBe(false);
    expect(accepts({ ...good, eventTime: "2019-06-01T12:34:56.789Z" })).toBe(false);
    // The pattern's shape, but no such instant: the tracker's batch would fail on it.
    expect(accepts({ ...good, eventTime: "2019-02-30T12:34:56.78+0000" })).toBe(false);
    expect(accepts({ ...good, eventTime: "0000-01-01T00:00:00.00+0000" })).toBe(false);
    expect(accepts({ ...good, action: "container-registry.exemption.list" })).toBe(false);
    expect(accepts({ ...good, observer: { name: "Someone" } })).toBe(false);
    expect(
      accepts({
        ...good,
        logSourceCRN: "crn:v1:bluemix:public:container-registry:eu-de:a/a1b2c3:::",
      }),
    ).toBe(false);
    expect(
      accepts({ ...good, target: { ...good.target, typeURI: "container-registry/image" } }),
    ).toBe(false);
    expect(
      accepts({ ...good, reason: { ...good.reason, reasonForFailure: "nothing failed" } }),
    ).toBe(false);
    expect(accepts({ ...good, responseData: { apiKey: "x" } })).toBe(false);
  });
});

describe("hostFromAddress", () => {
  it("unwraps IPv4-mapped IPv6 addresses", () => {
    expect(hostFromAddress("::ffff:127.0.0.1", "curl/8")).toEqual({
      address: "127.0.0.1",
      addressType: "IPv4",
      agent: "curl/8",
    });
    expect(hostFromAddress("2001:db8::1", "").addressType).toBe("IPv6");
  });
});

describe("buildEvent (property)", () => {
  const successCode = fc.constantFrom(200, 201, 202, 204, 304);
  const failureCode = fc.integer({ min: 400, max: 599 });
  const outcomeAndCode = fc
    .oneof(
      fc.tuple(fc.constant("success" as const), successCode),
      fc.tuple(fc.constant("pending" as const), fc.constantFrom(202, 200)),
      fc.tuple(fc.constant("failure" as const), failureCode),
    )
    .map(([outcome, reasonCode]) => ({ outcome, reasonCode }));
  const printable = fc.string({ maxLength: 40 });
  const input = fc.record({
    action: fc.constantFrom(...ACTION_NAMES),
    outcomeAndCode,
    region: fc.constantFrom(...REGION_NAMES),
    account: fc.stringMatching(/^[a-f0-9]{32}$/),
    time: fc.date({
      min: new Date("2000-01-01Z"),
      max: new Date("2100-01-01Z"),
      noInvalidDate: true,
    }),
    random: fc.uint8Array({ minLength: 10, maxLength: 10 }),
    name: printable,
    detail: fc.option(
      printable.filter((s) => s !== ""),
      { nil: undefined },
    ),
    reasonForFailure: fc.option(printable, { nil: undefined }),
    credential: fc.constantFrom("apikey" as const, "token" as const, "user" as const),
    requestData: fc.option(
      fc.dictionary(fc.constantFrom("namespace", "size", "tag", "count"), fc.jsonValue()),
      {
        nil: undefined,
      },
    ),
  });

  it("always produces schema-valid events, with ' -failure' exactly on failures", () => {
    fc.assert(
      fc.property(input, (i) => {
        const { outcome, reasonCode } = i.outcomeAndCode;
        const event = buildEvent({
          id: uuidV7(i.time.getTime(), i.random),
          time: i.time,
          action: i.action,
          outcome,
          region: i.region,
          account: i.account,
          initiator: { ...initiator, credential: { type: i.credential } },
          target: { name: i.name },
          reasonCode,
          reasonForFailure: i.reasonForFailure,
          messageDetail: i.detail,
          requestData: i.requestData,
          correlationId: "corr",
        });
        expect(eventSchema.parse(event)).toEqual(event);
        expect(event.message.startsWith("Container Registry: ")).toBe(true);
        expect(event.message.endsWith(" -failure")).toBe(outcome === "failure");
        expect(event.severity).toBe(
          outcome === "failure" ? failureSeverity(reasonCode) : ACTIONS[i.action].successSeverity,
        );
        expect(event.dataEvent).toBe(ACTIONS[i.action].dataEvent);
        expect(eventRegion(event)).toBe(i.region);
        expect(eventAccount(event)).toBe(i.account);
        expect(event.target.name).toBe(i.name);
      }),
    );
  });
});

describe("buildEvent's quick check (property)", () => {
  // buildEvent skips the whole schema for events it is sure of: whatever a caller passes, an
  // event it returns must be one the schema takes, and is what the schema would have made.
  const anyText = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom("", " ", "a:b", "a/b", "x -failure", "\u0000", "\ud800", "é"),
  );
  /** Mostly what a caller would pass, sometimes anything: each field goes wrong on its own. */
  const mostly = <T, U>(valid: fc.Arbitrary<T>, odd: fc.Arbitrary<U>) =>
    fc.oneof({ arbitrary: valid, weight: 12 }, { arbitrary: odd, weight: 1 });
  const hostile = fc.record({
    id: mostly(
      fc
        .tuple(
          fc.integer({ min: 0, max: 2 ** 40 }),
          fc.uint8Array({ minLength: 10, maxLength: 10 }),
        )
        .map(([ms, random]) => uuidV7(ms, random)),
      anyText,
    ),
    time: mostly(
      fc.date({ min: new Date("2000-01-01Z"), max: new Date("2100-01-01Z"), noInvalidDate: true }),
      fc.constantFrom(
        new Date(Date.UTC(2000, 0, 1) - 2000 * 365.2425 * 86_400_000),
        new Date("0999-12-31T23:59:59.999Z"),
        new Date("9999-12-31T23:59:59.999Z"),
      ),
    ),
    action: fc.constantFrom(...ACTION_NAMES),
    outcomeAndCode: fc.oneof(
      fc.tuple(fc.constant("maybe" as never), fc.constant(200)),
      fc.tuple(
        fc.constantFrom("success" as const, "pending" as const),
        fc.constantFrom(200, 201, 304),
      ),
      fc.tuple(fc.constant("failure" as const), fc.constantFrom(400, 404, 500, 503)),
      fc.tuple(
        fc.constantFrom("success" as const, "failure" as const),
        fc.oneof(fc.integer({ min: -1, max: 700 }), fc.double()),
      ),
    ),
    region: fc.constantFrom(...REGION_NAMES),
    account: mostly(fc.stringMatching(/^[a-f0-9]{32}$/), anyText),
    initiator: fc.record({
      id: mostly(fc.constant(initiator.id), anyText),
      name: mostly(fc.constant(initiator.name), anyText),
      typeURI: mostly(
        fc.constant(initiator.typeURI),
        fc.constantFrom("service/security/account/serviceid", "other"),
      ),
      credential: mostly(
        fc.constant(initiator.credential),
        fc.record({ type: fc.constantFrom("token", "cookie") }),
      ),
      host: mostly(
        fc.constant(initiator.host),
        fc.record({
          address: fc.oneof(fc.ipV4(), fc.ipV6(), anyText),
          addressType: fc.constantFrom("IPv4", "IPv6", "IPv5"),
          agent: anyText,
        }),
      ),
    }),
    name: mostly(anyText, fc.constantFrom(42, null)),
    type: fc.option(fc.constantFrom("namespace", "image", "bucket"), { nil: undefined }),
    reasonForFailure: fc.option(anyText, { nil: undefined }),
    detail: fc.option(anyText, { nil: undefined }),
    data: fc.option(
      mostly(
        fc.dictionary(fc.constantFrom("namespace", "size", "n"), fc.jsonValue({ maxDepth: 3 })),
        fc.constantFrom(
          { n: Number.NaN },
          { deep: JSON.parse(`${"[".repeat(40)}${"]".repeat(40)}`) },
          new Date(0) as unknown as Record<string, unknown>,
          [] as unknown as Record<string, unknown>,
        ),
      ),
      { nil: undefined },
    ),
    dataAsRequest: fc.boolean(),
    correlationId: mostly(fc.constant("req-1"), anyText),
  });

  it("returns only events the schema takes, as the schema would make them", () => {
    let built = 0;
    fc.assert(
      fc.property(hostile, (i) => {
        let event: AtEvent;
        try {
          event = buildEvent({
            id: i.id,
            time: i.time,
            action: i.action,
            outcome: i.outcomeAndCode[0],
            region: i.region,
            account: i.account,
            initiator: i.initiator as Initiator,
            target: { name: i.name as string, ...(i.type ? { type: i.type as never } : {}) },
            reasonCode: i.outcomeAndCode[1],
            reasonForFailure: i.reasonForFailure,
            messageDetail: i.detail,
            ...(i.dataAsRequest ? { requestData: i.data } : { responseData: i.data }),
            correlationId: i.correlationId,
          });
        } catch {
          return; // refused: the schema (or a formatter) named why
        }
        built++;
        const parsed = eventSchema.safeParse(event);
        expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
        expect(parsed.data).toEqual(event);
      }),
      { numRuns: 3000 },
    );
    // The draws must reach the quick path, not only refusals.
    expect(built).toBeGreaterThan(100);
  });
});
