export * from "./client";
export * from "./config";
export * from "./lines";
export * from "./query";
export * from "./sse";
