export * from "./audit";
export * from "./blobs";
export * from "./errors";
export * from "./listing";
export * from "./manifests";
export * from "./quota";
export * from "./repository";
export * from "./uploads/index";
