import { healthRoutes as serviceHealthRoutes } from "@berth/service";
import { sql } from "drizzle-orm";
import type { BerthPlugin } from "../berth-plugin";

/** `/healthz`: the process answers. `/readyz`: and its database does too. */
export const healthRoutes: BerthPlugin = async (app, deps) => {
  serviceHealthRoutes(app, {
    ready: () => deps.db.execute(sql`select 1`),
    extra: { region: deps.region },
  });
};
