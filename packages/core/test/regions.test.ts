import { describe, expect, it } from "vitest";
import {
  REGION_NAMES,
  REGIONS,
  regionAllowsNamespaces,
  regionByLocation,
  regionLocation,
  regionSchema,
} from "../src/index";

describe("regions", () => {
  it("maps each region to its host and cloud location", () => {
    expect(REGIONS["ap-north"]).toEqual({
      name: "ap-north",
      host: "jp.icr.io",
      location: "jp-tok",
    });
    expect(REGIONS["ap-south"].location).toBe("au-syd");
    expect(REGIONS["eu-central"].location).toBe("eu-de");
    expect(REGIONS["uk-south"].location).toBe("eu-gb");
    expect(REGIONS["us-south"].host).toBe("us.icr.io");
    expect(REGIONS.global).toEqual({ name: "global", host: "icr.io", location: "global" });
  });

  it("converts between region and location both ways", () => {
    for (const region of REGION_NAMES) {
      expect(regionByLocation(regionLocation(region))).toBe(region);
    }
    expect(() => regionByLocation("jp-osa")).toThrow(
      /no registry region has cloud location "jp-osa"/,
    );
  });

  it("validates region names", () => {
    expect(regionSchema.parse("uk-south")).toBe("uk-south");
    expect(regionSchema.safeParse("jp-tok").success).toBe(false);
  });

  it("refuses namespaces in global only", () => {
    expect(regionAllowsNamespaces("global")).toBe(false);
    expect(REGION_NAMES.filter(regionAllowsNamespaces)).toHaveLength(5);
  });
});
