import { ACTION_NAMES, ACTIONS, actionByProcedure } from "@berth/core";
import { describe, expect, it } from "vitest";
import { apiKeyFrom, appRouter } from "../src/index";

const procedures = Object.keys(appRouter._def.procedures);

describe("the router mirrors the action catalog", () => {
  it("has a procedure for every action served over tRPC, named after it", () => {
    const trpcActions = ACTION_NAMES.filter((name) => ACTIONS[name].surface === "trpc");
    for (const name of trpcActions) expect(procedures).toContain(ACTIONS[name].procedure);
  });

  it("has no procedure for an OCI action, and only known unaudited extras", () => {
    const unaudited = procedures.filter((p) => !actionByProcedure(p));
    expect(unaudited.sort()).toEqual([
      "delivery.dead",
      "delivery.redrive",
      "delivery.status",
      "events.query",
      "events.tail",
      "exemption.list",
      "log.checkpoint",
      "log.consistency",
      "log.entries",
      "log.inclusion",
      "log.key",
      "log.range",
      "region",
      "whoami",
    ]);
    for (const p of procedures) {
      const action = actionByProcedure(p);
      if (action) expect(action.surface).toBe("trpc");
    }
  });
});

describe("API key extraction", () => {
  it("reads a bearer token or x-api-key, and tells missing from malformed", () => {
    expect(apiKeyFrom({ authorization: "Bearer abc" })).toBe("abc");
    expect(apiKeyFrom({ authorization: "bearer   abc  " })).toBe("abc");
    expect(apiKeyFrom({ "x-api-key": " k1 " })).toBe("k1");
    expect(apiKeyFrom({ authorization: "Basic Zm9vOmJhcg==" })).toBe("");
    expect(apiKeyFrom({})).toBeUndefined();
  });
});
