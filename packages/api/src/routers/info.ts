import { REGIONS } from "@berth/core";
import { authedProcedure, publicProcedure } from "../trpc";

/** Who the API key acts as. Not an audited action. */
export const whoami = authedProcedure.query(({ ctx }) => ({
  account: ctx.registry.principal.account,
  user: ctx.registry.principal.user,
  credentialType: ctx.registry.principal.credentialType,
  region: ctx.region,
}));

/** The region this endpoint serves; public. */
export const region = publicProcedure.query(({ ctx }) => ({
  region: ctx.region,
  host: REGIONS[ctx.region].host,
  location: REGIONS[ctx.region].location,
}));
