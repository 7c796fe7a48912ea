import { describe, expect, it } from "vitest";
import {
  ACTION_NAMES,
  ACTIONS,
  actionByProcedure,
  actionMessage,
  isActionName,
} from "../src/index";

const DESIGN_ACTIONS = [
  "container-registry.exemption.create",
  "container-registry.exemption.delete",
  "container-registry.image.build",
  "container-registry.image.delete",
  "container-registry.image.inspect",
  "container-registry.image.list",
  "container-registry.image.pull",
  "container-registry.image.push",
  "container-registry.image.rm",
  "container-registry.image.tag",
  "container-registry.image.untag",
  "container-registry.namespace.create",
  "container-registry.namespace.delete",
  "container-registry.namespace.list",
  "container-registry.quota.get",
  "container-registry.quota.set",
  "container-registry.registrytoken.delete",
  "container-registry.registrytoken.get",
  "container-registry.registrytoken.list",
  "container-registry.registrytokens.delete",
  "container-registry.plan.get",
  "container-registry.plan.set",
];

/** Issue 19's lifecycle actions: extensions with their severity and data-event flag. */
const LIFECYCLE_ACTIONS = {
  "container-registry.image.restore": ["warning", true],
  "container-registry.trash.list": ["normal", false],
  "container-registry.trash.purge": ["critical", true],
  "container-registry.image.bulkdelete": ["critical", true],
  "container-registry.image.prune-untagged": ["critical", true],
  "container-registry.immutability.set": ["warning", false],
  "container-registry.immutability.get": ["normal", false],
  "container-registry.retention.set": ["warning", false],
  "container-registry.retention.get": ["normal", false],
  "container-registry.retention.analyze": ["normal", false],
  "container-registry.retention.run": ["critical", false],
} as const;

describe("action catalog", () => {
  it("holds the 22 actions of the design plus the registrytoken.create and lifecycle extensions", () => {
    expect([...ACTION_NAMES].sort()).toEqual(
      [
        ...DESIGN_ACTIONS,
        "container-registry.registrytoken.create",
        ...Object.keys(LIFECYCLE_ACTIONS),
      ].sort(),
    );
    for (const [name, [severity, data]] of Object.entries(LIFECYCLE_ACTIONS)) {
      expect(isActionName(name) && ACTIONS[name]).toMatchObject({
        extension: true,
        successSeverity: severity,
        dataEvent: data,
        surface: "trpc",
      });
    }
    for (const name of DESIGN_ACTIONS) {
      expect(isActionName(name) && ACTIONS[name].extension).toBe(false);
    }
    expect(ACTIONS["container-registry.registrytoken.create"].extension).toBe(true);
  });

  it("keys each entry by its name and derives the procedure by dropping the service prefix", () => {
    for (const name of ACTION_NAMES) {
      const action = ACTIONS[name];
      expect(action.name).toBe(name);
      expect(`container-registry.${action.procedure}`).toBe(name);
      expect(actionByProcedure(action.procedure)).toBe(action);
    }
    expect(ACTIONS["container-registry.registrytokens.delete"].procedure).toBe(
      "registrytokens.delete",
    );
  });

  it("has no action for operations the design does not audit", () => {
    expect(actionByProcedure("exemption.list")).toBeUndefined();
    expect(actionByProcedure("delivery.redrive")).toBeUndefined();
    expect(actionByProcedure("health")).toBeUndefined();
    expect(isActionName("container-registry.exemption.list")).toBe(false);
    expect(isActionName("toString")).toBe(false);
    expect(isActionName(42)).toBe(false);
  });

  it("assigns success severity by kind of change", () => {
    const bySeverity = (severity: string) =>
      ACTION_NAMES.filter(
        (n) => ACTIONS[n].successSeverity === severity && !(n in LIFECYCLE_ACTIONS),
      )
        .map((n) => ACTIONS[n].procedure)
        .sort();
    expect(bySeverity("critical")).toEqual([
      "image.delete",
      "image.rm",
      "namespace.delete",
      "registrytoken.create",
      "registrytoken.delete",
      "registrytokens.delete",
    ]);
    expect(bySeverity("warning")).toEqual([
      "exemption.create",
      "exemption.delete",
      "image.untag",
      "plan.set",
      "quota.set",
    ]);
    expect(ACTIONS["container-registry.image.tag"].successSeverity).toBe("normal");
    expect(ACTIONS["container-registry.namespace.create"].successSeverity).toBe("normal");
    expect(ACTIONS["container-registry.image.pull"].successSeverity).toBe("normal");
  });

  it("marks exactly the actions on image data as data events", () => {
    const data = ACTION_NAMES.filter((n) => ACTIONS[n].dataEvent && !(n in LIFECYCLE_ACTIONS))
      .map((n) => ACTIONS[n].procedure)
      .sort();
    expect(data).toEqual(["image.build", "image.delete", "image.pull", "image.push", "image.rm"]);
  });

  it("serves push, pull and delete over OCI and the rest over tRPC", () => {
    const oci = ACTION_NAMES.filter((n) => ACTIONS[n].surface === "oci")
      .map((n) => ACTIONS[n].procedure)
      .sort();
    expect(oci).toEqual(["image.delete", "image.pull", "image.push"]);
  });

  it("targets the resource kind each action touches", () => {
    expect(ACTIONS["container-registry.namespace.create"].targetType).toBe(
      "container-registry/namespace",
    );
    expect(ACTIONS["container-registry.image.push"].targetType).toBe("container-registry/image");
    expect(ACTIONS["container-registry.registrytokens.delete"].targetType).toBe(
      "container-registry/registrytoken",
    );
    expect(ACTIONS["container-registry.namespace.list"].targetType).toBe(
      "container-registry/account",
    );
    expect(ACTIONS["container-registry.quota.set"].targetType).toBe("container-registry/quota");
    expect(ACTIONS["container-registry.plan.set"].targetType).toBe("container-registry/plan");
    expect(ACTIONS["container-registry.exemption.delete"].targetType).toBe(
      "container-registry/exemption",
    );
  });

  it("builds messages from verb, object and detail", () => {
    expect(actionMessage("container-registry.namespace.create", "birds")).toBe(
      "Container Registry: create namespace birds",
    );
    expect(actionMessage("container-registry.namespace.create", "birds", true)).toBe(
      "Container Registry: create namespace birds -failure",
    );
    expect(actionMessage("container-registry.namespace.list")).toBe(
      "Container Registry: list namespaces",
    );
  });

  it("is frozen so no consumer can change the audit policy at run time", () => {
    expect(Object.isFrozen(ACTIONS)).toBe(true);
    expect(Object.isFrozen(ACTIONS["container-registry.image.rm"])).toBe(true);
  });
});
