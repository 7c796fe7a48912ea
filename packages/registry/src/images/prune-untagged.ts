import { manifestReferences, manifests, repositories, type Tx, tags } from "@berth/db";
import { type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { type AuditRecord, field, runAudited, safeName } from "../audit";
import { nowOf, type RegistryContext } from "../context";
import { badRequest } from "../errors";
import { requireNamespace } from "../namespaces/lookup";
import { moveToTrash, trashPlace } from "../trash/store";
import { imageTarget, requireRepository } from "./resolve";
import { childRecords, deleteManifest } from "./rm";

/** Most images one prune moves; the rest is counted in `remaining` for the next call. */
export const MAX_PRUNE = 500;

export const pruneUntaggedInput = z
  .object({
    /** Every repository of this namespace… */
    namespace: z.string().min(1).max(255).optional(),
    /** …or this one repository ("ns/repo"). */
    repository: z.string().min(1).max(255).optional(),
  })
  .refine((i) => (i.namespace === undefined) !== (i.repository === undefined), {
    message: "give either namespace or repository (ns/repo), not both",
  });
export type PruneUntaggedInput = z.input<typeof pruneUntaggedInput>;

export interface PruneResult {
  /** The images moved to the trash ("ns/repo@digest"), oldest first. */
  pruned: { image: string; repository: string; digest: string }[];
  /** Untagged images left because the call reached MAX_PRUNE. */
  remaining: number;
}

interface Candidate extends Record<string, unknown> {
  id: string;
  digest: string;
  repository_id: string;
  repository: string;
}

/**
 * The untagged images of a scope, oldest first: no tag points at them, no index of their
 * repository lists them (a platform manifest of an index is kept or goes with its index),
 * and they are not a referrer (signature, SBOM) of an image their repository still has.
 */
function untagged(scope: SQL, extra: SQL = sql``): SQL {
  return sql`
    select m.id, m.digest, m.repository_id, r.name as repository
      from ${manifests} m join ${repositories} r on r.id = m.repository_id
     where ${scope}
       and not exists (select 1 from ${tags} t where t.manifest_id = m.id)
       and not exists (
         select 1 from ${manifestReferences} mr join ${manifests} p on p.id = mr.manifest_id
          where p.repository_id = m.repository_id and mr.kind = 'manifest' and mr.digest = m.digest)
       and (m.subject_digest is null or not exists (
         select 1 from ${manifests} s
          where s.repository_id = m.repository_id and s.digest = m.subject_digest))
     order by m.created_at, r.name, m.digest ${extra}`;
}

/**
 * container-registry.image.prune-untagged: move the untagged images of a namespace or one
 * repository to the trash (restorable until they expire), one event per image, at most
 * MAX_PRUNE a call. A prune that finds nothing writes one event naming the scope.
 */
export function pruneUntagged(ctx: RegistryContext, raw: unknown): Promise<PruneResult> {
  const scopeName = safeName(field(raw, "repository") ?? field(raw, "namespace"));
  const scopeTarget = {
    target: { name: scopeName, type: "container-registry/namespace" as const },
    messageDetail: scopeName,
  };
  return runAudited(ctx, {
    action: "container-registry.image.prune-untagged",
    failure: () => [scopeTarget],
    execute: async (tx) => {
      const input = pruneUntaggedInput.parse(raw);
      const scope = await scopeOf(tx, ctx, input);
      const requestData = input.repository
        ? { repository: input.repository }
        : { namespace: input.namespace };
      // Locked, then read again: a tag set meanwhile (its insert waits on the lock) spares it.
      const locked = await tx.execute<Candidate>(
        sql`${untagged(scope, sql`limit ${MAX_PRUNE + 1}`)} for update of m`,
      );
      const still = new Set(
        (await tx.execute<Candidate>(untagged(scope, sql`limit ${MAX_PRUNE + 1}`))).map(
          (c) => c.id,
        ),
      );
      const chosen = locked.filter((c) => still.has(c.id)).slice(0, MAX_PRUNE);
      const [{ n } = { n: 0 }] = await tx.execute<{ n: number }>(
        sql`select count(*)::int as n from (${untagged(scope)}) u`,
      );
      const now = nowOf(ctx);
      const pruned: PruneResult["pruned"] = [];
      const records: AuditRecord[] = [];
      for (const c of chosen) {
        const trashed = await moveToTrash(
          tx,
          trashPlace(ctx, c.repository, c.repository_id),
          c.id,
          {
            reason: "image.prune-untagged",
            now,
            days: ctx.trashDays,
          },
        );
        const removed = await deleteManifest(tx, c.repository_id, c.id, { unlinkBlobs: true });
        const image = `${c.repository}@${c.digest}`;
        pruned.push({ image, repository: c.repository, digest: c.digest });
        records.push({
          target: imageTarget(image, c.repository, c.digest),
          messageDetail: image,
          requestData,
          responseData: {
            digest: c.digest,
            trashedUntil: trashed.expiresAt.toISOString(),
            ...(removed.children.length > 0 ? { children: removed.children } : {}),
          },
        });
        records.push(...childRecords(c.repository, c.digest, removed.children));
      }
      const remaining = Math.max(0, Number(n) - pruned.length);
      if (records.length === 0) {
        records.push({ ...scopeTarget, requestData, responseData: { pruned: 0, remaining } });
      }
      return { result: { pruned, remaining }, records };
    },
  });
}

/** The SQL condition of the scope: the caller's namespace, or one repository of it. */
async function scopeOf(
  tx: Tx,
  ctx: RegistryContext,
  input: { namespace?: string | undefined; repository?: string | undefined },
): Promise<SQL> {
  if (input.repository !== undefined) {
    if (!input.repository.includes("/")) {
      throw badRequest(`repository must be ns/repo: "${input.repository}"`);
    }
    const { repositoryId } = await requireRepository(tx, ctx, input.repository);
    return sql`r.id = ${repositoryId}`;
  }
  const ns = await requireNamespace(tx, ctx, input.namespace!);
  return sql`r.namespace_id = ${ns.id}`;
}
