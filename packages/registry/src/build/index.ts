export * from "./budget";
export * from "./build";
export * from "./context";
export * from "./limits";
export * from "./progress";
export * from "./queue";
export * from "./staged";
