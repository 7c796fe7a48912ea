import type { RegistryContext } from "../context";
import { readOnNamed } from "../named-action";
import { requireNamespace } from "../namespaces/lookup";
import { getRetentionInput, type StoredPolicy, storedPolicy } from "./policy";

export interface GetRetentionResult {
  namespace: string;
  /** Null when the namespace has none: nothing is ever removed by retention. */
  policy: StoredPolicy | null;
}

/** container-registry.retention.get: the retention policy of one of the caller's namespaces. */
export function getRetention(ctx: RegistryContext, raw: unknown): Promise<GetRetentionResult> {
  return readOnNamed(ctx, raw, "namespace", {
    action: "container-registry.retention.get",
    input: getRetentionInput,
    read: async (db, { namespace: name }) => {
      const ns = await requireNamespace(db, ctx, name);
      const policy = await storedPolicy(db, ns.id);
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
