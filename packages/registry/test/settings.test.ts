import { MB } from "@berth/core";
import { registryTokens } from "@berth/db";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  createExemption,
  createRegistryToken,
  deleteExemption,
  getPlan,
  getQuota,
  getRegistryToken,
  hashSecret,
  listExemptions,
  listRegistryTokens,
  RegistryError,
  setPlan,
  setQuota,
  verifyRegistryToken,
} from "../src/index";
import { forFile, setup } from "./helpers";

const env = await forFile(setup({ alice: ["birds"], bob: ["bobs"] }));

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(RegistryError);
  return (e as RegistryError).code;
}

describe("plans and quotas", () => {
  it("quota.set takes MB, caps at the lite plan, and plan.set only upgrades", async () => {
    const ctx = () => env.ctx(env.alice, "eu-central");
    expect((await getPlan(ctx())).plan).toBe("lite");
    const set = await setQuota(ctx(), { storageMb: 100, trafficMb: 1000 });
    expect(set.quotas).toEqual({ storageMb: 100, trafficMb: 1000 });
    expect(set.limits).toEqual({ storageBytes: 100 * MB, pullTrafficBytes: 1000 * MB });
    expect(await code(setQuota(ctx(), { storageMb: 513 }))).toBe("PLAN_LIMIT");
    expect(await code(setQuota(ctx(), { trafficMb: 5121 }))).toBe("PLAN_LIMIT");
    expect(await code(setQuota(ctx(), { storageMb: -1 }))).toBe("BAD_REQUEST");
    expect(await code(setQuota(ctx(), { storageMb: 1.5 }))).toBe("BAD_REQUEST");
    expect(await code(setQuota(ctx(), {}))).toBe("BAD_REQUEST");
    // Nothing changed by the failures.
    expect((await getQuota(ctx())).quotas).toEqual({ storageMb: 100, trafficMb: 1000 });
    // Only storage given: traffic unchanged; null clears.
    expect((await setQuota(ctx(), { storageMb: 512 })).quotas).toEqual({
      storageMb: 512,
      trafficMb: 1000,
    });
    expect((await setQuota(ctx(), { trafficMb: null })).limits.pullTrafficBytes).toBe(5120 * MB);
    expect((await setPlan(ctx(), { plan: "standard" })).changed).toBe(true);
    expect((await setQuota(ctx(), { storageMb: 100_000 })).limits.storageBytes).toBe(100_000 * MB);
    expect(await code(setPlan(ctx(), { plan: "lite" }))).toBe("BAD_REQUEST");
    expect((await getPlan(ctx())).plan).toBe("standard");
    expect((await setPlan(ctx(), { plan: "standard" })).changed).toBe(false);
    // Per account and region.
    expect((await getPlan(env.ctx(env.alice, "us-south"))).plan).toBe("lite");
    expect((await getPlan(env.ctx(env.bob, "eu-central"))).plan).toBe("lite");
    expect((await getQuota(env.ctx(env.bob, "eu-central"))).quotas).toEqual({
      storageMb: null,
      trafficMb: null,
    });
  });
});

describe("registry tokens", () => {
  const at = new Date("2030-01-01T00:00:00Z");

  it("are read-only and expire after 24 hours by default; the secret is stored hashed", async () => {
    const ctx = { ...env.ctx(env.alice), now: () => at };
    const token = await createRegistryToken(ctx, { description: "ci" });
    expect(token).toMatchObject({
      access: "read",
      description: "ci",
      username: "token",
      expired: false,
    });
    expect(new Date(token.expiresAt!).getTime() - at.getTime()).toBe(24 * 3600 * 1000);
    const [row] = await env.t.db
      .select()
      .from(registryTokens)
      .where(eq(registryTokens.id, token.id));
    expect(row!.secretHash).toBe(hashSecret(token.secret));
    expect(JSON.stringify(row)).not.toContain(token.secret);
    const got = await getRegistryToken(env.ctx(env.alice), { id: token.id });
    expect(got).not.toHaveProperty("secret");
    expect(JSON.stringify(got)).not.toContain(token.secret);
    expect(JSON.stringify(await listRegistryTokens(env.ctx(env.alice)))).not.toContain(
      token.secret,
    );

    const verified = await verifyRegistryToken(env.t.db, token.secret, {
      region: "us-south",
      now: at,
    });
    expect(verified).toMatchObject({ tokenId: token.id, access: "read" });
    expect(verified!.principal.account.id).toBe(env.alice.account.id);
    const later = new Date(at.getTime() + 24 * 3600 * 1000);
    expect(
      await verifyRegistryToken(env.t.db, token.secret, { region: "us-south", now: later }),
    ).toBeNull();
    expect(
      await verifyRegistryToken(env.t.db, token.secret, { region: "eu-central", now: at }),
    ).toBeNull();
    expect(
      await verifyRegistryToken(env.t.db, `${token.secret}x`, { region: "us-south", now: at }),
    ).toBeNull();
  });

  it("can be read-write and non-expiring on request", async () => {
    const token = await createRegistryToken(env.ctx(env.alice), {
      access: "readwrite",
      nonExpiring: true,
    });
    expect(token).toMatchObject({ access: "readwrite", expiresAt: null });
    const far = new Date("2099-01-01T00:00:00Z");
    expect(
      await verifyRegistryToken(env.t.db, token.secret, { region: "us-south", now: far }),
    ).toMatchObject({ access: "readwrite" });
    expect(await code(createRegistryToken(env.ctx(env.alice), { access: "admin" }))).toBe(
      "BAD_REQUEST",
    );
  });

  it("of one account are invisible to another", async () => {
    const token = await createRegistryToken(env.ctx(env.alice), {});
    expect(await code(getRegistryToken(env.ctx(env.bob), { id: token.id }))).toBe("NOT_FOUND");
    expect((await listRegistryTokens(env.ctx(env.bob))).items.map((t) => t.id)).not.toContain(
      token.id,
    );
  });
});

describe("exemptions", () => {
  it("apply by scope: account, namespace, repository, tag or digest", async () => {
    const ctx = () => env.ctx(env.alice);
    const digest = `sha256:${"a".repeat(64)}`;
    const made = [
      { scope: "*", issueType: "cve", issueId: "CVE-2018-17929" },
      { scope: "birds", issueType: "cve", issueId: "CVE-2019-0001" },
      {
        scope: "birds/robin",
        issueType: "configuration",
        issueId: "application_configuration:nginx.ssl_protocols",
      },
      { scope: "birds/robin:1.0", issueType: "cve", issueId: "CVE-2019-0002" },
      { scope: `birds/robin@${digest}`, issueType: "cve", issueId: "CVE-2019-0003" },
      { scope: "birds/wren", issueType: "cve", issueId: "CVE-2019-0004" },
    ] as const;
    for (const e of made) await createExemption(ctx(), e);
    const ids = async (scope?: string) =>
      (await listExemptions(ctx(), scope === undefined ? {} : { scope })).items
        .map((e) => e.issueId)
        .sort();
    expect(await ids()).toHaveLength(6);
    expect(await ids("birds/robin:1.0")).toEqual(
      [
        "CVE-2018-17929",
        "CVE-2019-0001",
        "CVE-2019-0002",
        "application_configuration:nginx.ssl_protocols",
      ].sort(),
    );
    expect(await ids(`birds/robin@${digest}`)).toEqual(
      [
        "CVE-2018-17929",
        "CVE-2019-0001",
        "CVE-2019-0003",
        "application_configuration:nginx.ssl_protocols",
      ].sort(),
    );
    expect(await ids("birds/wren:2")).toEqual(["CVE-2018-17929", "CVE-2019-0001", "CVE-2019-0004"]);
    expect(await ids("*")).toEqual(["CVE-2018-17929"]);
    expect(await code(listExemptions(ctx(), { scope: "Bad Scope" }))).toBe("BAD_REQUEST");

    expect(await code(createExemption(ctx(), made[0]))).toBe("CONFLICT");
    expect(
      await code(
        createExemption(ctx(), {
          scope: "*",
          issueType: "cve",
          issueId: "application_configuration:x",
        }),
      ),
    ).toBe("BAD_REQUEST");
    // A namespace scope must be one of the caller's namespaces.
    expect(
      await code(
        createExemption(ctx(), { scope: "bobs", issueType: "cve", issueId: "CVE-2019-0005" }),
      ),
    ).toBe("NOT_FOUND");
    expect((await listExemptions(env.ctx(env.bob), {})).items).toEqual([]);
    expect(await code(deleteExemption(env.ctx(env.bob), made[0]))).toBe("NOT_FOUND");
    await deleteExemption(ctx(), made[0]);
    expect(await code(deleteExemption(ctx(), made[0]))).toBe("NOT_FOUND");
    expect(await ids("*")).toEqual([]);
  });
});
