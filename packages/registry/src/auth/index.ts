export * from "./authenticate";
export * from "./bearer";
export * from "./credential";
export * from "./holds";
export * from "./scope";
