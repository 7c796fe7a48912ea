import { MAX_NAMESPACES_PER_REGION } from "@berth/core";
import { namespaces } from "@berth/db";
import { v7 as uuidv7 } from "uuid";
import { describe, expect, it } from "vitest";
import { createNamespace, deleteNamespace, listNamespaces, RegistryError } from "../src/index";
import { forFile, setup } from "./helpers";

const env = await forFile(setup());

async function failure(p: Promise<unknown>): Promise<RegistryError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(RegistryError);
  return e as RegistryError;
}

/** Alice's namespaces in a region, inserted directly (no use case, no events): filler. */
function fill(region: string, count: number, prefix: string) {
  return env.t.db.insert(namespaces).values(
    Array.from({ length: count }, (_, i) => ({
      id: uuidv7(),
      accountId: env.alice.account.id,
      region,
      name: `${prefix}-${i}`,
    })),
  );
}

describe("namespaces", () => {
  it("validates names: 4-30 chars, lowercase, digits, - and _, alphanumeric at both ends", async () => {
    for (const bad of ["abc", "a".repeat(31), "Birds", "-birds", "birds_", "bi rds", "bird$"]) {
      const ctx = env.ctx(env.alice);
      const e = await failure(createNamespace(ctx, { name: bad }));
      expect(e.code).toBe("BAD_REQUEST");
      const [event] = await env.events(ctx.requestId);
      expect(event).toMatchObject({ outcome: "failure", reason: { reasonCode: 400 } });
    }
    for (const good of ["abcd", "a".repeat(30), "my-team_2", "0bird9"]) {
      await expect(createNamespace(env.ctx(env.alice), { name: good })).resolves.toMatchObject({
        name: good,
        region: "us-south",
      });
    }
  });

  it("names are unique per region across accounts, and free in other regions", async () => {
    await createNamespace(env.ctx(env.alice), { name: "shared-name" });
    const ctx = env.ctx(env.bob);
    expect((await failure(createNamespace(ctx, { name: "shared-name" }))).code).toBe("CONFLICT");
    const [event] = await env.events(ctx.requestId);
    expect(event).toMatchObject({ outcome: "failure", reason: { reasonCode: 409 } });
    expect(event!.initiator.id).toBe(env.bob.user.id);
    await expect(
      createNamespace(env.ctx(env.bob, "eu-central"), { name: "shared-name" }),
    ).resolves.toMatchObject({ region: "eu-central" });
    expect((await listNamespaces(env.ctx(env.bob))).items.map((n) => n.name)).not.toContain(
      "shared-name",
    );
    expect((await listNamespaces(env.ctx(env.bob, "eu-central"))).items.map((n) => n.name)).toEqual(
      ["shared-name"],
    );
  });

  it("refuses namespaces in the global registry", async () => {
    const e = await failure(createNamespace(env.ctx(env.alice, "global"), { name: "globalns" }));
    expect(e.code).toBe("BAD_REQUEST");
    expect(e.message).toMatch(/global/);
  });

  it("allows at most 100 namespaces per account and region", async () => {
    const region = "uk-south";
    // Fill up to the limit directly, then the use case must refuse the next one.
    await fill(region, MAX_NAMESPACES_PER_REGION - 1, "fill");
    await createNamespace(env.ctx(env.alice, region), { name: "the-last" });
    const ctx = env.ctx(env.alice, region);
    const e = await failure(createNamespace(ctx, { name: "one-too-many" }));
    expect(e.code).toBe("PLAN_LIMIT");
    expect((await env.events(ctx.requestId))[0]).toMatchObject({
      outcome: "failure",
      severity: "critical",
      reason: { reasonCode: 403 },
    });
    expect((await listNamespaces(env.ctx(env.alice, region))).items).toHaveLength(
      MAX_NAMESPACES_PER_REGION,
    );
    // Other accounts and regions are not affected.
    await createNamespace(env.ctx(env.bob, region), { name: "bob-uk" });
  });

  it("holds the limit under concurrent creation", async () => {
    const region = "ap-south";
    await fill(region, MAX_NAMESPACES_PER_REGION - 3, "conc");
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        createNamespace(env.ctx(env.alice, region), { name: `race-${i}` }),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    expect((await listNamespaces(env.ctx(env.alice, region))).items).toHaveLength(
      MAX_NAMESPACES_PER_REGION,
    );
  });

  it("delete of another account's namespace looks like a missing one", async () => {
    await createNamespace(env.ctx(env.alice), { name: "alices" });
    const ctx = env.ctx(env.bob);
    const e = await failure(deleteNamespace(ctx, { name: "alices" }));
    const missing = await failure(deleteNamespace(env.ctx(env.bob), { name: "nowhere" }));
    expect(e.code).toBe("NOT_FOUND");
    expect(e.message.replace("alices", "X")).toBe(missing.message.replace("nowhere", "X"));
    expect((await listNamespaces(env.ctx(env.alice))).items.map((n) => n.name)).toContain("alices");
  });
});

describe("namespace races", () => {
  it("two accounts creating the same name at once: one wins, the other gets a conflict", async () => {
    const results = await Promise.allSettled([
      createNamespace(env.ctx(env.alice, "eu-central"), { name: "contested" }),
      createNamespace(env.ctx(env.bob, "eu-central"), { name: "contested" }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(RegistryError);
    expect((rejected.reason as RegistryError).code).toBe("CONFLICT");
  });
});
