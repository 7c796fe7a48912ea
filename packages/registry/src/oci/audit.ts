import type { ActionName } from "@berth/core";
import { safeName, writeFailureEvents } from "../audit";
import type { RegistryContext } from "../context";
import type { RegistryError } from "../errors";
import { imageTarget } from "../images/resolve";
import { ociFailureOf } from "./errors";

/** OCI requests that are attempts of an audited action (the others are never audited). */
export type OciAction = Extract<
  ActionName,
  | "container-registry.image.push"
  | "container-registry.image.pull"
  | "container-registry.image.delete"
  | "container-registry.image.untag"
>;

/**
 * Record a refused attempt of an identified account that no use case got to run (no pull
 * access in the token, a read-only token pushing, a blob upload refused for quota) and
 * return the error to answer with.
 */
export async function recordRefusal(
  ctx: RegistryContext,
  action: OciAction,
  targetName: string,
  error: unknown,
): Promise<RegistryError> {
  const failure = ociFailureOf(error);
  const name = safeName(targetName);
  await writeFailureEvents(
    ctx,
    action,
    [{ target: imageTarget(name), messageDetail: name }],
    failure,
  );
  return failure;
}
