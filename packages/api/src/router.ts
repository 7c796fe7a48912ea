import { deliveryRouter } from "./routers/delivery";
import { eventsRouter } from "./routers/events";
import { exemptionRouter } from "./routers/exemption";
import { imageRouter } from "./routers/image";
import { immutabilityRouter } from "./routers/immutability";
import { region, whoami } from "./routers/info";
import { logRouter } from "./routers/log";
import { namespaceRouter } from "./routers/namespace";
import { planRouter } from "./routers/plan";
import { quotaRouter } from "./routers/quota";
import { registryTokenRouter, registryTokensRouter } from "./routers/registrytoken";
import { retentionRouter } from "./routers/retention";
import { trashRouter } from "./routers/trash";
import { router } from "./trpc";

/**
 * The management API. A procedure's path is its action's name without the service
 * prefix (`namespace.create` audits `container-registry.namespace.create`); operations
 * no action names (`exemption.list`, `whoami`, `region`, `events.*`, `log.*`, `delivery.*`) sit
 * beside them unaudited.
 */
export const appRouter = router({
  namespace: namespaceRouter,
  image: imageRouter,
  quota: quotaRouter,
  plan: planRouter,
  registrytoken: registryTokenRouter,
  registrytokens: registryTokensRouter,
  exemption: exemptionRouter,
  trash: trashRouter,
  immutability: immutabilityRouter,
  retention: retentionRouter,
  events: eventsRouter,
  log: logRouter,
  delivery: deliveryRouter,
  whoami,
  region,
});

export type AppRouter = typeof appRouter;
