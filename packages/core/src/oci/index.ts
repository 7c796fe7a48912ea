export * from "./errors";
export * from "./manifest";
export * from "./media-types";
