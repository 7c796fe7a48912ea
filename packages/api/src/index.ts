export * from "./context";
export { type AppRouter, appRouter } from "./router";
export { type BerthErrorData, createCallerFactory, toTRPCError } from "./trpc";
