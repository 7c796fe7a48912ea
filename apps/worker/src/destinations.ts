import { lookupRegion, type RegionTable, trackerEndpoint } from "@berth/tracker-client";

/** Where one tracker region's events go. */
export interface Destination {
  region: string;
  url: URL;
  auth: string;
}

/**
 * Where a tracker region's events go, or why they cannot go anywhere (no endpoint or no key
 * for it), worked out once per region.
 */
export function destinationsOf(s: {
  trackerUrl: string;
  trackerKeys: RegionTable;
}): (trackerRegion: string) => Destination | string {
  const known = new Map<string, Destination | string>();
  return (trackerRegion) => {
    let d = known.get(trackerRegion);
    if (d === undefined) {
      const endpoint = trackerEndpoint(s.trackerUrl, trackerRegion);
      const key = lookupRegion(s.trackerKeys, trackerRegion);
      if (!endpoint) d = `no tracker endpoint is configured for region ${trackerRegion}`;
      else if (!key) d = `no ingestion key is configured for region ${trackerRegion}`;
      else {
        d = {
          region: trackerRegion,
          url: new URL(`${endpoint}/logs/ingest`),
          auth: `Basic ${Buffer.from(`${key}:`).toString("base64")}`,
        };
      }
      known.set(trackerRegion, d);
    }
    return d;
  };
}
