import { z } from "zod";

export const REGION_NAMES = [
  "ap-north",
  "ap-south",
  "eu-central",
  "uk-south",
  "us-south",
  "global",
] as const;
export type RegionName = (typeof REGION_NAMES)[number];
export const regionSchema = z.enum(REGION_NAMES);

export interface Region {
  readonly name: RegionName;
  /** Public host of the registry; deployments override hosts through configuration. */
  readonly host: string;
  /** Cloud location, the form regions take inside CRNs. */
  readonly location: string;
}

export const REGIONS: Readonly<Record<RegionName, Region>> = Object.freeze({
  "ap-north": { name: "ap-north", host: "jp.icr.io", location: "jp-tok" },
  "ap-south": { name: "ap-south", host: "au.icr.io", location: "au-syd" },
  "eu-central": { name: "eu-central", host: "de.icr.io", location: "eu-de" },
  "uk-south": { name: "uk-south", host: "uk.icr.io", location: "eu-gb" },
  "us-south": { name: "us-south", host: "us.icr.io", location: "us-south" },
  global: { name: "global", host: "icr.io", location: "global" },
});

export function isRegionName(value: unknown): value is RegionName {
  return typeof value === "string" && (REGION_NAMES as readonly string[]).includes(value);
}

export function regionLocation(region: RegionName): string {
  const entry = isRegionName(region) ? REGIONS[region] : undefined;
  if (!entry) throw new Error(`unknown region "${region}" (known: ${REGION_NAMES.join(", ")})`);
  return entry.location;
}

export function regionByLocation(location: string): RegionName {
  for (const name of REGION_NAMES) {
    if (REGIONS[name].location === location) return name;
  }
  throw new Error(
    `no registry region has cloud location "${location}" (known: ${REGION_NAMES.map((r) => REGIONS[r].location).join(", ")})`,
  );
}

/** `global` serves public images only; tenants cannot own namespaces there (DESIGN §2). */
export function regionAllowsNamespaces(region: RegionName): boolean {
  return region !== "global";
}
