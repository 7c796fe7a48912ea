// What every Berth process (server, worker, tracker) shares: its settings from the
// environment, the refusal of built-in secrets on a reachable address, and its health answers.
export * from "./env";
export * from "./exposure";
export * from "./health";
export * from "./metrics";
export * from "./signals";
