import { describe, expect, it } from "vitest";
import {
  ConfigError,
  exportQuerySchema,
  lookupRegion,
  parseRegionTable,
  parseSse,
  trackerEndpoint,
} from "../src/index";

describe("region tables", () => {
  it("takes one value for every region", () => {
    const t = parseRegionTable("K", "secret");
    expect(lookupRegion(t, "us-south")).toBe("secret");
    expect(lookupRegion(t, "jp-osa")).toBe("secret");
  });

  it("takes per-region values with a fallback", () => {
    const t = parseRegionTable("K", "us-south=a, ap-south=b,*=c");
    expect(lookupRegion(t, "us-south")).toBe("a");
    expect(lookupRegion(t, "ap-south")).toBe("b");
    expect(lookupRegion(t, "eu-central")).toBe("c");
    expect(lookupRegion(parseRegionTable("K", "us-south=a"), "eu-central")).toBeUndefined();
  });

  it("names the variable in errors", () => {
    expect(() => parseRegionTable("BERTH_X", "")).toThrow(/BERTH_X/);
    expect(() => parseRegionTable("BERTH_X", "us-south=a,us-south=b")).toThrow(ConfigError);
    expect(() => parseRegionTable("BERTH_X", "us-south=")).toThrow(/BERTH_X/);
  });

  it("resolves tracker endpoints from a base URL or a table", () => {
    expect(trackerEndpoint("http://127.0.0.1:7400/", "ap-south")).toBe(
      "http://127.0.0.1:7400/regions/ap-south",
    );
    const table = "ap-south=http://a.example/ingest/,*=http://base:1";
    expect(trackerEndpoint(table, "ap-south")).toBe("http://a.example/ingest");
    expect(trackerEndpoint(table, "us-south")).toBe("http://base:1/regions/us-south");
    expect(trackerEndpoint("us-south=http://x", "eu-central")).toBeUndefined();
    expect(() => trackerEndpoint("ftp://x", "us-south")).toThrow(/BERTH_TRACKER_URL/);
  });
});

describe("export query", () => {
  it("reads seconds, milliseconds and ISO instants, and lists", () => {
    const q = exportQuerySchema.parse({
      account: "a1",
      from: "1700000000",
      to: "1700000000123",
      severity: "warning,critical",
      action: ["x", "y,z"],
    });
    expect(q.from).toBe(1_700_000_000_000);
    expect(q.to).toBe(1_700_000_000_123);
    expect(q.severity).toEqual(["warning", "critical"]);
    expect(q.action).toEqual(["x", "y", "z"]);
    expect(q.size).toBe(100);
    expect(exportQuerySchema.parse({ account: "a", from: "2019-06-01T00:00:00Z" }).from).toBe(
      Date.UTC(2019, 5, 1),
    );
    expect(exportQuerySchema.safeParse({ account: "a", severity: "loud" }).success).toBe(false);
    expect(exportQuerySchema.safeParse({ account: "a", size: "0" }).success).toBe(false);
  });
});

describe("server-sent events", () => {
  it("parses messages split across chunks", async () => {
    const enc = new TextEncoder();
    async function* chunks() {
      yield enc.encode(": hello\n\nevent: ready\ndata: {}\n\nid: 7\nevent: li");
      yield enc.encode('ne\ndata: {"a":1}\r\n\r\ndata: x\ndata: y\n\n');
    }
    const got = [];
    for await (const m of parseSse(chunks())) got.push(m);
    expect(got).toEqual([
      { event: "ready", data: "{}" },
      { event: "line", data: '{"a":1}', id: "7" },
      { event: "message", data: "x\ny" },
    ]);
  });
});
