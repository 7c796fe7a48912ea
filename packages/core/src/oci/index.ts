export * from "./accept";
export * from "./errors";
export * from "./limits";
export * from "./manifest";
export * from "./media-types";
