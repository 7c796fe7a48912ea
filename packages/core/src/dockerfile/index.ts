export * from "./errors";
export * from "./instructions";
export * from "./parse";
export * from "./patterns";
export * from "./words";
