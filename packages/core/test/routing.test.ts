import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_ROUTING,
  LATER_ROUTING,
  parseRoutingTable,
  REGION_NAMES,
  ROUTING_TABLES,
  RoutingError,
  routeEvent,
} from "../src/index";

describe("built-in routing tables", () => {
  it("default: ap-north goes to ap-south, global to us-south, others stay", () => {
    expect(routeEvent("ap-north")).toBe("ap-south");
    expect(routeEvent("global")).toBe("us-south");
    for (const region of ["ap-south", "eu-central", "uk-south", "us-south"]) {
      expect(routeEvent(region)).toBe(region);
    }
  });

  it("later: ap-south goes to Tokyo and the added regions route to themselves", () => {
    expect(routeEvent("ap-south", LATER_ROUTING)).toBe("ap-north");
    expect(routeEvent("ap-north", LATER_ROUTING)).toBe("ap-north");
    expect(routeEvent("global", LATER_ROUTING)).toBe("us-south");
    for (const region of ["eu-central", "uk-south", "us-south", "jp-osa", "br-sao", "ca-tor"]) {
      expect(routeEvent(region, LATER_ROUTING)).toBe(region);
    }
  });

  it("routes every Berth region in both tables to a region the table also routes (property)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...REGION_NAMES),
        fc.constantFrom(DEFAULT_ROUTING, LATER_ROUTING),
        (region, table) => {
          const destination = routeEvent(region, table);
          // Tracker regions are themselves regions of the table, where they stay put.
          expect(routeEvent(destination, table)).toBe(destination);
          expect(destination).not.toBe("global");
        },
      ),
    );
  });

  it("throws a clear error for a region the table does not know", () => {
    expect(() => routeEvent("jp-osa")).toThrow(RoutingError);
    expect(() => routeEvent("jp-osa")).toThrow(/"jp-osa" is not in routing table "default"/);
    expect(() => routeEvent("constructor")).toThrow(RoutingError);
  });

  it("exposes the tables by name", () => {
    expect(ROUTING_TABLES.default).toBe(DEFAULT_ROUTING);
    expect(ROUTING_TABLES.later).toBe(LATER_ROUTING);
    expect(Object.isFrozen(DEFAULT_ROUTING.routes)).toBe(true);
  });
});

describe("parseRoutingTable", () => {
  it("returns built-in tables by name", () => {
    expect(parseRoutingTable("default")).toBe(DEFAULT_ROUTING);
    expect(parseRoutingTable(" later ")).toBe(LATER_ROUTING);
  });

  it("reads an inline table and routes unlisted known regions to themselves", () => {
    const table = parseRoutingTable("ap-north=ap-south, global=us-south,jp-osa=jp-osa");
    expect(table.routes).toEqual({
      "ap-north": "ap-south",
      "ap-south": "ap-south",
      "eu-central": "eu-central",
      "uk-south": "uk-south",
      "us-south": "us-south",
      global: "us-south",
      "jp-osa": "jp-osa",
    });
    expect(routeEvent("jp-osa", table)).toBe("jp-osa");
    expect(() => routeEvent("br-sao", table)).toThrow(/not in routing table/);
  });

  it("routes arbitrary new regions given inline without code changes (property)", () => {
    const regionName = fc.stringMatching(/^[a-z]{2,4}-[a-z]{3}$/);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(regionName, regionName), {
          minLength: 1,
          maxLength: 6,
          selector: ([from]) => from,
        }),
        (pairs) => {
          const table = parseRoutingTable(pairs.map(([from, to]) => `${from}=${to}`).join(","));
          for (const [from, to] of pairs) expect(routeEvent(from, table)).toBe(to);
          for (const region of REGION_NAMES) {
            if (!pairs.some(([from]) => from === region))
              expect(routeEvent(region, table)).toBe(region);
          }
        },
      ),
    );
  });

  it("reads JSON, either a full table or just the routes", () => {
    const full = parseRoutingTable('{"name":"osaka","routes":{"jp-osa":"ap-north"}}');
    expect(full.name).toBe("osaka");
    expect(routeEvent("jp-osa", full)).toBe("ap-north");
    expect(routeEvent("ap-north", full)).toBe("ap-north");
    const bare = parseRoutingTable('{"ca-tor":"us-south"}');
    expect(routeEvent("ca-tor", bare)).toBe("us-south");
  });

  it("explains what is wrong with a bad spec", () => {
    expect(() => parseRoutingTable("")).toThrow(/empty/);
    expect(() => parseRoutingTable("sideways")).toThrow(/unknown routing table "sideways"/);
    expect(() => parseRoutingTable("ap-north")).toThrow(/unknown routing table/);
    expect(() => parseRoutingTable("ap-north=ap-south=x")).toThrow(
      /must look like <event region>=<tracker region>/,
    );
    expect(() => parseRoutingTable("ap-north=")).toThrow(/"" is not a region name/);
    expect(() => parseRoutingTable("AP-North=us-south")).toThrow(/"AP-North" is not a region name/);
    expect(() => parseRoutingTable("ap-north=us-south,ap-north=eu-de")).toThrow(/given twice/);
    expect(() => parseRoutingTable("{not json")).toThrow(/does not parse/);
    expect(() => parseRoutingTable('{"routes":{"ap-north":7}}')).toThrow(
      /routing table JSON is invalid/,
    );
    expect(() => parseRoutingTable("{}")).toThrow(/must not be empty/);
  });
});
