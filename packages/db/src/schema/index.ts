export * from "./accounts";
export * from "./billing";
export * from "./credentials";
export * from "./images";
export * from "./lifecycle";
export * from "./namespaces";
export * from "./outbox";
