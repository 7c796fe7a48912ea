// Over 400 lines: the action catalog is one declarative table (an entry per audited action,
// each field read by the event builder, the routers and the docs check); split, the one list
// every action must appear in would be several.
import type { Severity } from "./severity";
import type { TargetType } from "./targets";

export const SERVICE_NAME = "container-registry";
const ACTION_PREFIX = `${SERVICE_NAME}.`;

export const MESSAGE_PREFIX = "Container Registry: ";
export const FAILURE_SUFFIX = " -failure";

export type ActionSurface = "trpc" | "oci";

interface ActionSpec {
  readonly verb: string;
  readonly object: string;
  readonly successSeverity: Severity;
  readonly dataEvent: boolean;
  readonly targetType: TargetType;
  readonly surface: ActionSurface;
  readonly extension: boolean;
  readonly description: string;
}

// Severity and dataEvent follow DESIGN §3: reads and creates are normal,
// updates warning, destroying data or touching credentials critical; only
// actions on image bytes are data events. List actions target the account
// because what they read is the account's collection, not one resource.
const CATALOG = {
  "container-registry.exemption.create": {
    verb: "create",
    object: "exemption",
    successSeverity: "warning",
    dataEvent: false,
    targetType: "container-registry/exemption",
    surface: "trpc",
    extension: false,
    description: "add a vulnerability exemption",
  },
  "container-registry.exemption.delete": {
    verb: "delete",
    object: "exemption",
    successSeverity: "warning",
    dataEvent: false,
    targetType: "container-registry/exemption",
    surface: "trpc",
    extension: false,
    description: "remove a vulnerability exemption",
  },
  "container-registry.image.build": {
    verb: "build",
    object: "image",
    successSeverity: "normal",
    dataEvent: true,
    targetType: "container-registry/image",
    surface: "trpc",
    extension: false,
    description: "build an image from a Dockerfile and context, store it",
  },
  "container-registry.image.delete": {
    verb: "delete",
    object: "image",
    successSeverity: "critical",
    dataEvent: true,
    targetType: "container-registry/image",
    surface: "oci",
    extension: false,
    description: "delete a manifest by digest",
  },
  "container-registry.image.inspect": {
    verb: "inspect",
    object: "image",
    successSeverity: "normal",
    dataEvent: false,
    targetType: "container-registry/image",
    surface: "trpc",
    extension: false,
    description: "show config and manifest details of an image",
  },
  "container-registry.image.list": {
    verb: "list",
    object: "images",
    successSeverity: "normal",
    dataEvent: false,
    targetType: "container-registry/account",
    surface: "trpc",
    extension: false,
    description: "list the images of the account",
  },
  "container-registry.image.pull": {
    verb: "pull",
    object: "image",
    successSeverity: "normal",
    dataEvent: true,
    targetType: "container-registry/image",
    surface: "oci",
    extension: false,
    description: "pull an image (one event per manifest fetch, not per blob)",
  },
  "container-registry.image.push": {
    verb: "push",
    object: "image",
    successSeverity: "normal",
    dataEvent: true,
    targetType: "container-registry/image",
    surface: "oci",
    extension: false,
    description: "push an image (one event per manifest put)",
  },
  "container-registry.image.rm": {
    verb: "remove",
    object: "image",
    successSeverity: "critical",
    dataEvent: true,
    targetType: "container-registry/image",
    surface: "trpc",
    extension: false,
    description: "delete one or more images (one event per image)",
  },
  "container-registry.image.tag": {
    verb: "tag",
    object: "image",
    successSeverity: "normal",
    dataEvent: false,
    targetType: "container-registry/image",
    surface: "trpc",
    extension: false,
    description: "add a tag that refers to an existing image",
  },
  "container-registry.image.untag": {
    verb: "untag",
    object: "image",
    successSeverity: "warning",
    dataEvent: false,
    targetType: "container-registry/image",
    surface: "trpc",
    extension: false,
    description: "remove tags from each given image, keep the image",
  },
  "container-registry.namespace.create": {
    verb: "create",
    object: "namespace",
    successSeverity: "normal",
    dataEvent: false,
    targetType: "container-registry/namespace",
    surface: "trpc",
    extension: false,
    description: "add a namespace",
  },
  "container-registry.namespace.delete": {
    verb: "delete",
    object: "namespace",
    successSeverity: "critical",
    dataEvent: false,
    targetType: "container-registry/namespace",
    surface: "trpc",
    extension: false,
    description: "delete a namespace and everything in it",
  },
  "container-registry.namespace.list": {
    verb: "list",
    object: "namespaces",
    successSeverity: "normal",
    dataEvent: false,
    targetType: "container-registry/account",
    surface: "trpc",
    extension: false,
    description: "list the account's namespaces",
  },
  "container-registry.quota.get": {
    verb: "get",
    object: "quota",
    successSeverity: "normal",
    dataEvent: false,
    targetType: "container-registry/quota",
    surface: "trpc",
    extension: false,
    description: "show storage and pull-traffic quotas and usage",
  },
  "container-registry.quota.set": {
    verb: "set",
    object: "quota",
    successSeverity: "warning",
    dataEvent: false,
    targetType: "container-registry/quota",
    surface: "trpc",
    extension: false,
    description: "change the quotas",
  },
  "container-registry.registrytoken.delete": {
    verb: "delete",
    object: "registry token",
    successSeverity: "critical",
    dataEvent: false,
    targetType: "container-registry/registrytoken",
    surface: "trpc",
    extension: false,
    description: "delete a registry token",
  },
  "container-registry.registrytoken.get": {
    verb: "get",
    object: "registry token",
    successSeverity: "normal",
    dataEvent: false,
    targetType: "container-registry/registrytoken",
    surface: "trpc",
    extension: false,
    description: "show one registry token",
  },
  "container-registry.registrytoken.list": {
    verb: "list",
    object: "registry tokens",
    successSeverity: "normal",
    dataEvent: false,
    targetType: "container-registry/account",
    surface: "trpc",
    extension: false,
    description: "list the account's registry tokens",
  },
  "container-registry.registrytokens.delete": {
    verb: "delete",
    object: "registry token",
    successSeverity: "critical",
    dataEvent: false,
    // One event per deleted token (DESIGN §1: one event per target resource).
    targetType: "container-registry/registrytoken",
    surface: "trpc",
    extension: false,
    description: "delete several registry tokens at once",
  },
  "container-registry.plan.get": {
    verb: "get",
    object: "plan",
    successSeverity: "normal",
    dataEvent: false,
    targetType: "container-registry/plan",
    surface: "trpc",
    extension: false,
    description: "show the pricing plan",
  },
  "container-registry.plan.set": {
    verb: "set",
    object: "plan",
    successSeverity: "warning",
    dataEvent: false,
    targetType: "container-registry/plan",
    surface: "trpc",
    extension: false,
    description: "upgrade to the standard plan",
  },
  // Not in the original catalog: issuing a credential must leave a trace.
  "container-registry.registrytoken.create": {
    verb: "create",
    object: "registry token",
    successSeverity: "critical",
    dataEvent: false,
    targetType: "container-registry/registrytoken",
    surface: "trpc",
    extension: true,
    description: "create a registry token",
  },
  // Lifecycle (issue 19): a trash deleted images go to, restore and purge.
  "container-registry.image.restore": {
    verb: "restore",
    object: "image",
    successSeverity: "warning",
    dataEvent: true,
    targetType: "container-registry/image",
    surface: "trpc",
    extension: true,
    description: "put a deleted image back from the trash, by digest or by the tag it had",
  },
  "container-registry.trash.list": {
    verb: "list",
    object: "trash",
    successSeverity: "normal",
    dataEvent: false,
    targetType: "container-registry/account",
    surface: "trpc",
    extension: true,
    description: "list the deleted images in the trash and until when they stay",
  },
  "container-registry.trash.purge": {
    verb: "purge",
    object: "image",
    successSeverity: "critical",
    dataEvent: true,
    // One event per purged image; the GC purges expired entries as the service.
    targetType: "container-registry/image",
    surface: "trpc",
    extension: true,
    description: "delete images from the trash for good (emptied, or expired by the GC)",
  },
  // Lifecycle (issue 19): bulk deletes, pruning untagged images, tag immutability.
  "container-registry.image.bulkdelete": {
    verb: "delete",
    object: "image",
    successSeverity: "critical",
    dataEvent: true,
    // One event per image, successes and failures side by side; each goes to the trash.
    targetType: "container-registry/image",
    surface: "trpc",
    extension: true,
    description: "delete many images in one call into the trash (one event per image)",
  },
  "container-registry.image.prune-untagged": {
    verb: "prune",
    object: "image",
    successSeverity: "critical",
    dataEvent: true,
    // One event per pruned image; a prune that finds none targets the namespace it searched.
    targetType: "container-registry/image",
    surface: "trpc",
    extension: true,
    description: "move the untagged images of a namespace or repository to the trash",
  },
  "container-registry.immutability.set": {
    verb: "set",
    object: "tag immutability",
    successSeverity: "warning",
    dataEvent: false,
    // The namespace, or one repository of it ("ns/repo"), named as the scope.
    targetType: "container-registry/namespace",
    surface: "trpc",
    extension: true,
    description: "turn tag immutability on or off for a namespace or repository",
  },
  "container-registry.immutability.get": {
    verb: "get",
    object: "tag immutability",
    successSeverity: "normal",
    dataEvent: false,
    targetType: "container-registry/namespace",
    surface: "trpc",
    extension: true,
    description: "show where tag immutability is on in a namespace",
  },
  // Retention (issue 19): a policy per namespace and its runs. The images a run removes
  // each get a container-registry.image.rm event with the service as initiator and the
  // policy in requestData (see docs/domain.md, "Retention").
  "container-registry.retention.set": {
    verb: "set",
    object: "retention policy",
    successSeverity: "warning",
    dataEvent: false,
    targetType: "container-registry/namespace",
    surface: "trpc",
    extension: true,
    description: "set the retention policy of a namespace",
  },
  "container-registry.retention.get": {
    verb: "get",
    object: "retention policy",
    successSeverity: "normal",
    dataEvent: false,
    targetType: "container-registry/namespace",
    surface: "trpc",
    extension: true,
    description: "show the retention policy of a namespace",
  },
  "container-registry.retention.analyze": {
    verb: "analyze",
    object: "retention policy",
    successSeverity: "normal",
    dataEvent: false,
    targetType: "container-registry/namespace",
    surface: "trpc",
    extension: true,
    description: "list the images a retention run would remove, without removing them",
  },
  "container-registry.retention.run": {
    verb: "run",
    object: "retention policy",
    successSeverity: "critical",
    dataEvent: false,
    // One event per run (on demand: the caller; scheduled: the service); each image it
    // removes has its own image.rm event.
    targetType: "container-registry/namespace",
    surface: "trpc",
    extension: true,
    description: "move to the trash the images a namespace's retention policy does not keep",
  },
} as const satisfies Record<string, ActionSpec>;

export type ActionName = keyof typeof CATALOG;

export interface ActionDefinition extends ActionSpec {
  readonly name: ActionName;
  /** The action name without the service prefix; also the tRPC procedure path. */
  readonly procedure: string;
}

export const ACTION_NAMES = Object.freeze(Object.keys(CATALOG)) as readonly [
  ActionName,
  ...ActionName[],
];

export const ACTIONS: Readonly<Record<ActionName, ActionDefinition>> = Object.freeze(
  Object.fromEntries(
    ACTION_NAMES.map((name) => [
      name,
      Object.freeze({ name, procedure: name.slice(ACTION_PREFIX.length), ...CATALOG[name] }),
    ]),
  ) as Record<ActionName, ActionDefinition>,
);

const BY_PROCEDURE: ReadonlyMap<string, ActionDefinition> = new Map(
  ACTION_NAMES.map((name) => [ACTIONS[name].procedure, ACTIONS[name]]),
);

export function isActionName(value: unknown): value is ActionName {
  return typeof value === "string" && Object.hasOwn(CATALOG, value);
}

/** The action audited by a tRPC procedure, or undefined for operations that are not audited. */
export function actionByProcedure(procedure: string): ActionDefinition | undefined {
  return BY_PROCEDURE.get(procedure);
}

/** `Container Registry: <verb> <object>[ <detail>]`, with " -failure" appended when it failed. */
export function actionMessage(name: ActionName, detail?: string, failed = false): string {
  const { verb, object } = ACTIONS[name];
  const what = detail ? `${verb} ${object} ${detail}` : `${verb} ${object}`;
  return `${MESSAGE_PREFIX}${what}${failed ? FAILURE_SUFFIX : ""}`;
}
