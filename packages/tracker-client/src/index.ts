export * from "./client";
export * from "./config";
export * from "./lines";
export * from "./log";
export * from "./query";
export * from "./sse";
