export * from "./context";
export { type AppRouter, appRouter } from "./router";
export type {
  BuildImageInput,
  BuildImageResult,
  BuildMessage,
  BuildProgress,
} from "./routers/build";
export type { DeadLetter, DeliveryStatus } from "./routers/delivery";
export type { EventsPage, EventsQueryInput, EventsTailInput, TailMessage } from "./routers/events";
export { type BerthErrorData, createCallerFactory, MAX_BATCH_SIZE, toTRPCError } from "./trpc";
