export * from "./append";
export * from "./cancel";
export * from "./finish";
export * from "./mount";
export { MAX_OPEN_UPLOADS } from "./push-start";
export type { UploadRef } from "./sessions";
export * from "./start";
export * from "./status";
export * from "./whole";
