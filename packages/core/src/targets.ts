import { z } from "zod";

export const TARGET_TYPES = [
  "container-registry/namespace",
  "container-registry/image",
  "container-registry/registrytoken",
  "container-registry/quota",
  "container-registry/plan",
  "container-registry/exemption",
  "container-registry/account",
] as const;
export type TargetType = (typeof TARGET_TYPES)[number];
export const targetTypeSchema = z.enum(TARGET_TYPES);

const TARGET_PREFIX = "container-registry/";

/** The CRN's resource-type segment for a target type ("container-registry/image" → "image"). */
export function crnResourceType(type: TargetType): string {
  return type.slice(TARGET_PREFIX.length);
}
