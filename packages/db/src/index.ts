export * from "./client";
export * from "./commit";
export * from "./connect";
export { type EmbeddedServer, freePort, startEmbeddedPostgres } from "./embedded";
export * from "./errors";
export * from "./group-commit";
export { MIGRATIONS_DIR, migrate } from "./migrate";
export * from "./outbox/index";
export * from "./schema/index";
