import { describe, expect, it } from "vitest";
import { progressLine } from "../src/cli/commands/build";

describe("berth build progress", () => {
  it("shows a build waiting for a slot as queued", () => {
    expect(
      progressLine({
        kind: "queued",
        ahead: 2,
        message: "queued: the server runs 2 builds (at most 2 at once), 2 waiting before this one",
      }),
    ).toBe(" ---> queued: the server runs 2 builds (at most 2 at once), 2 waiting before this one");
  });
});
