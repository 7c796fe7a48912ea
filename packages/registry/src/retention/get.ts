import { runAudited } from "../audit";
import type { RegistryContext } from "../context";
import { requireNamespace } from "../namespaces/lookup";
import { getRetentionInput, namespaceFailure, type StoredPolicy, storedPolicy } from "./policy";

export interface GetRetentionResult {
  namespace: string;
  /** Null when the namespace has none: nothing is ever removed by retention. */
  policy: StoredPolicy | null;
}

/** container-registry.retention.get: the retention policy of one of the caller's namespaces. */
export function getRetention(ctx: RegistryContext, raw: unknown): Promise<GetRetentionResult> {
  return runAudited(ctx, {
    action: "container-registry.retention.get",
    failure: () => namespaceFailure(raw),
    execute: async (tx) => {
      const { namespace: name } = getRetentionInput.parse(raw);
      const ns = await requireNamespace(tx, ctx, name);
      const policy = await storedPolicy(tx, ns.id);
      return {
        result: { namespace: name, policy },
        records: [
          {
            target: { name },
            messageDetail: name,
            requestData: { namespace: name },
            responseData: { hasPolicy: policy !== null },
          },
        ],
      };
    },
  });
}
