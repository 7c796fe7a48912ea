import { eventAccount } from "@berth/core";
import { makeEvent } from "@berth/tracker-client/testing";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crnAccount } from "../src/log/append";

describe("the account a log entry is filed under", () => {
  it("is the account core reads from the event's CRN, whatever the account and target", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,31}$/),
        fc.stringMatching(/^[a-z0-9][a-z0-9._:/-]{0,40}$/),
        fc.constantFrom("us-south", "eu-central", "ap-north", "global") as fc.Arbitrary<
          "us-south" | "eu-central" | "ap-north" | "global"
        >,
        (account, target, region) => {
          const event = makeEvent({ account, target, region });
          expect(crnAccount(event.target.id)).toBe(eventAccount(event));
          expect(crnAccount(event.logSourceCRN)).toBe(account);
        },
      ),
      { numRuns: 300 },
    );
  });
});
