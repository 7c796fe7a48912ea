export * from "./build";
export * from "./context";
export * from "./progress";
export * from "./stage";
