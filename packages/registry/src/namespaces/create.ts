import {
  MAX_NAMESPACES_PER_REGION,
  namespaceNameSchema,
  regionAllowsNamespaces,
} from "@berth/core";
import { namespaces } from "@berth/db";
import { and, count, eq, sql } from "drizzle-orm";
import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import { accountId, nowOf, type RegistryContext } from "../context";
import { badRequest, conflict, isUniqueViolation, RegistryError } from "../errors";
import { runOnNamed } from "../named-action";
import { callersNamespaces } from "./lookup";

export const createNamespaceInput = z.object({ name: namespaceNameSchema });
export type CreateNamespaceInput = z.input<typeof createNamespaceInput>;

export interface NamespaceInfo {
  name: string;
  region: string;
  createdAt: string;
}

/** container-registry.namespace.create */
export function createNamespace(ctx: RegistryContext, raw: unknown): Promise<NamespaceInfo> {
  return runOnNamed(ctx, raw, "name", {
    action: "container-registry.namespace.create",
    input: createNamespaceInput,
    execute: async (tx, { name }) => {
      if (!regionAllowsNamespaces(ctx.region)) {
        throw badRequest(
          `namespaces cannot be created in the ${ctx.region} registry; use a regional registry`,
        );
      }
      // Serialise creations per account and region so the limit holds under concurrency.
      // The lock and both reads are asked at once: they travel together on the
      // transaction's connection (one round trip) and Postgres runs them in this order, so
      // the reads still see the state under the lock.
      const [, [owned], taken] = await Promise.all([
        tx.execute(
          sql`select pg_advisory_xact_lock(hashtext(${`ns:${accountId(ctx)}:${ctx.region}`}))`,
        ),
        tx.select({ n: count() }).from(namespaces).where(callersNamespaces(ctx)),
        tx
          .select({ id: namespaces.id })
          .from(namespaces)
          .where(and(eq(namespaces.region, ctx.region), eq(namespaces.name, name))),
      ]);
      if ((owned?.n ?? 0) >= MAX_NAMESPACES_PER_REGION) {
        throw new RegistryError(
          "PLAN_LIMIT",
          `you already have ${MAX_NAMESPACES_PER_REGION} namespaces in region ${ctx.region}, the most an account can have; delete one first`,
        );
      }
      // Names are unique per region across accounts, so this cannot be hidden like a 404.
      if (taken.length > 0) throw takenError(name, ctx.region);
      const createdAt = nowOf(ctx);
      // Nothing reads the insert's answer: it travels with the event's insert (one round
      // trip), and a name taken meanwhile fails the attempt as the check above would.
      const insert = tx
        .insert(namespaces)
        .values({ id: uuidv7(), accountId: accountId(ctx), region: ctx.region, name, createdAt })
        .then(
          () => {},
          (error: unknown) => {
            throw isUniqueViolation(error) ? takenError(name, ctx.region) : error;
          },
        );
      return {
        alongside: [insert],
        result: { name, region: ctx.region, createdAt: createdAt.toISOString() },
        records: [
          { target: { name }, messageDetail: name, status: 201, requestData: { namespace: name } },
        ],
      };
    },
  });
}

function takenError(name: string, region: string) {
  return conflict(`namespace "${name}" is already in use in region ${region}; choose another name`);
}
