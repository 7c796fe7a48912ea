import { TrackerRequestError } from "./errors";

/** One entry of a log page: the event with the leaf hash the tracker's tree holds at its index. */
export interface LogEntryLine {
  index: number;
  id: string;
  /** Base64 leaf hash stored in the tree (null when the tree has no leaf there). */
  leaf: string | null;
  event: unknown;
}

export interface CheckpointAnswer {
  size: number;
  /** The signed note, verbatim. */
  checkpoint: string;
}

export interface ConsistencyAnswer {
  from: number;
  to: number;
  proof: string[];
}

export interface RangeAnswer {
  start: number;
  end: number;
  size: number;
  proof: string[];
}

/** The tracker's verifiable-log read API (docs/verifiable-log.md), for one account domain. */
export interface TrackerLogClient {
  key(region: string): Promise<string>;
  checkpoint(region: string, account: string, size?: number): Promise<CheckpointAnswer>;
  /** A C2SP tlog-proof (text) of one entry, named by index or event id. */
  inclusion(
    region: string,
    account: string,
    at: { index: number } | { id: string },
    size?: number,
  ): Promise<string>;
  consistency(
    region: string,
    account: string,
    from: number,
    to: number,
  ): Promise<ConsistencyAnswer>;
  range(
    region: string,
    account: string,
    start: number,
    end: number,
    size?: number,
  ): Promise<RangeAnswer>;
  entries(region: string, account: string, start: number, end: number): Promise<LogEntryLine[]>;
}

type Get = (region: string, path: string, params: Record<string, unknown>) => Promise<Response>;

async function body(res: Response): Promise<string> {
  const text = await res.text();
  if (!res.ok) throw new TrackerRequestError(res.status, text);
  return text;
}

export function createLogClient(get: Get): TrackerLogClient {
  const json = async <T>(region: string, path: string, params: Record<string, unknown>) =>
    JSON.parse(await body(await get(region, path, params))) as T;
  return {
    async key(region) {
      return (await json<{ key: string }>(region, "/v2/log/key", {})).key;
    },
    checkpoint: (region, account, size) =>
      json<CheckpointAnswer>(region, "/v2/log/checkpoint", { account, size }),
    async inclusion(region, account, at, size) {
      return body(await get(region, "/v2/log/proof/inclusion", { account, ...at, size }));
    },
    consistency: (region, account, from, to) =>
      json<ConsistencyAnswer>(region, "/v2/log/proof/consistency", { account, from, to }),
    range: (region, account, start, end, size) =>
      json<RangeAnswer>(region, "/v2/log/proof/range", { account, start, end, size }),
    async entries(region, account, start, end) {
      return (
        await json<{ entries: LogEntryLine[] }>(region, "/v2/log/entries", {
          account,
          start,
          end,
        })
      ).entries;
    },
  };
}
