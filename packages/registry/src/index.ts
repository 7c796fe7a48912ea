// Accounts and credentials (an IAM stand-in)
export * from "./accounts/accounts";
export {
  API_KEY_PREFIX,
  hashSecret,
  REGISTRY_TOKEN_PREFIX,
  secretMatches,
} from "./accounts/secrets";
// Shared machinery, and the authentication of registry clients
export * from "./audit";
export * from "./auth/index";
// Builds: image.build from a Dockerfile and an uploaded context
export * from "./build/index";
export * from "./bulk";
export * from "./context";
// Exemptions
export * from "./delivery/dead";
export type { DeadLetter, DeliveryStatus } from "./delivery/model";
export * from "./delivery/redrive";
export * from "./delivery/status";
export * from "./errors";
export * from "./exemptions/create";
export * from "./exemptions/delete";
export * from "./exemptions/list";
export { type ExemptionInfo, type ExemptionInput, exemptionInput } from "./exemptions/model";
// Images
export * from "./images/bulk-delete";
export * from "./images/gc";
export * from "./images/inspect";
export * from "./images/list";
export * from "./images/manifest";
export * from "./images/prune-untagged";
export * from "./images/records";
export * from "./images/resolve";
export * from "./images/rm";
export * from "./images/tag";
export * from "./images/tar";
export * from "./images/untag";
export * from "./lifecycle/immutability";
export * from "./lifecycle/immutability-settings";
export * from "./lifecycle/service";
// Namespaces
export * from "./namespaces/create";
export * from "./namespaces/delete";
export * from "./namespaces/list";
export * from "./namespaces/lookup";
// The OCI distribution API
export * from "./oci/index";
// Plans and quotas
export * from "./plans/get";
export * from "./plans/lookup";
export * from "./plans/set";
export * from "./quota/get";
export * from "./quota/set";
export * from "./quota/usage";
// Registry tokens
export * from "./registry-tokens/create";
export * from "./registry-tokens/delete";
export * from "./registry-tokens/model";
export * from "./registry-tokens/read";
export * from "./registry-tokens/verify";
// Retention: a policy per namespace, analyze, runs on demand and on schedule
export * from "./retention/analyze";
export * from "./retention/get";
export {
  type GetRetentionInput,
  policyFor,
  type RetentionRunInput,
  type SetRetentionInput,
  type StoredPolicy,
} from "./retention/policy";
export * from "./retention/run";
export * from "./retention/schedule";
export * from "./retention/set";
// Blob storage
export * from "./storage/blob-store";
export * from "./storage/factory";
export * from "./storage/fs-blob-store";
export * from "./storage/fs-uploads";
export * from "./storage/gc";
export * from "./storage/read";
export * from "./storage/s3-blob-store";
export * from "./storage/s3-client";
export * from "./storage/s3-uploads";
export * from "./storage/uploads";
export * from "./trash/list";
export * from "./trash/purge";
export * from "./trash/restore";
export * from "./trash/store";
