import { createHash, randomBytes } from "node:crypto";
import type { BuildMessage } from "@berth/api";
import { manifests } from "@berth/db";
import { contextTar, createTestImage } from "@berth/registry/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { followBuild, outcome, upload } from "./build-helpers";
import { buildTenants } from "./build-tenants";
import { eventCount } from "./expect-events";
import { rid } from "./helpers";

/*
 * The isolation matrix for builds: account B knows every id and digest of account A's (its
 * staged context's id, the digest of that context's bytes, A's layers and config, A's image by
 * tag and by digest) and names each as its build context or as its FROM. Each answer must be
 * exactly the answer for something that does not exist at all, nothing of A's may reach B's
 * registry, and A's state and events stay as they were.
 */

const { env, alice, bob } = await buildTenants();
const secret = `alice-secret-${randomBytes(8).toString("hex")}`;
let aliceContext: string;
let aliceContextDigest: string;
let aliceImage: Awaited<ReturnType<typeof createTestImage>>;

const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const randomDigest = () => `sha256:${randomBytes(32).toString("hex")}`;

beforeAll(async () => {
  // A's context and A's image both hold a Dockerfile that copies A's secret: a build that
  // read either would put the secret in B's image.
  const files = {
    Dockerfile: "FROM scratch\nCOPY secret /secret\n",
    secret: `${secret}\n`,
  };
  const tar = await contextTar(files);
  aliceContextDigest = sha256(tar);
  aliceContext = await upload(env, env.alice, tar);
  aliceImage = await createTestImage(env.t.db, env.store, {
    accountId: env.alice.account.id,
    region: "us-south",
    repository: "alicens/app",
    tag: "1",
    layers: [files],
  });
  // A builds from its own context: the id works for its owner.
  const own = outcome(
    await followBuild(alice, { target: "alicens/built:1", context: aliceContext }),
  );
  expect(own.kind, JSON.stringify(own)).toBe("done");
}, 120_000);

async function aliceState() {
  const images = await env.t.db.select({ digest: manifests.digest }).from(manifests);
  return {
    events: await eventCount(env.t.db, env.alice.account.id),
    manifests: images.map((m) => m.digest).sort(),
  };
}

function failure(messages: BuildMessage[]) {
  const last = outcome(messages);
  expect(last.kind, JSON.stringify(last)).toBe("failed");
  return (last as Extract<BuildMessage, { kind: "failed" }>).error;
}

describe("isolation matrix: image.build", () => {
  it("answers B naming any of A's contexts, layers or configs as its context exactly as a context that never existed", async () => {
    const before = await aliceState();
    const nothing = failure(
      await followBuild(bob, {
        target: "bobns/probe:1",
        context: `ctx_${randomBytes(24).toString("hex")}`,
      }),
    );
    expect(nothing.code).toBe("NOT_FOUND");
    const names: [string, string][] = [
      ["A's staged context id", aliceContext],
      ["the digest of A's context bytes", aliceContextDigest],
      ["A's layer digest", aliceImage.layerBlobs[0]!.digest],
      ["A's config digest", aliceImage.configBlob.digest],
      ["A's manifest digest", aliceImage.digest],
      ["a digest nobody stored", randomDigest()],
    ];
    for (const [what, context] of names) {
      // The Dockerfile path is a probe too: with A's bytes as the context it would tell which
      // files exist and show the start of any of them in its error.
      for (const dockerfile of ["Dockerfile", "secret"]) {
        const requestId = rid("probe");
        const got = failure(
          await followBuild(bob, { target: "bobns/probe:1", context, dockerfile }, requestId),
        );
        expect(got, `${what} (dockerfile ${dockerfile})`).toEqual(nothing);
        const events = await env.events(requestId);
        expect(events, what).toHaveLength(1);
        expect(events[0]!.accountId).toBe(env.bob.account.id);
        expect(events[0]!.event.outcome).toBe("failure");
        expect(JSON.stringify(events[0]!.event)).not.toContain(secret);
      }
    }
    expect(await aliceState()).toEqual(before);
    const bobImages = await env.t.db.select({ content: manifests.content }).from(manifests);
    expect(bobImages.some((m) => Buffer.from(m.content).toString().includes("bobns"))).toBe(false);
  });

  it("answers B's FROM naming A's image, by tag or by digest, exactly as an image that does not exist", async () => {
    const before = await aliceState();
    const attempt = async (from: string) => {
      const context = await upload(env, env.bob, {
        Dockerfile: `FROM ${from}\nCOPY x /x\n`,
        x: "bob\n",
      });
      return failure(await followBuild(bob, { target: "bobns/base-probe:1", context }));
    };
    const pairs: [string, string][] = [
      // A's namespace, named from B's account, against a namespace nobody has.
      ["alicens/app:1", "nobodyns/app:1"],
      [`alicens/app@${aliceImage.digest}`, `nobodyns/app@${aliceImage.digest}`],
      // A's manifest digest in B's own namespace, against a digest nobody stored.
      [`bobns/app@${aliceImage.digest}`, `bobns/app@${randomDigest()}`],
    ];
    for (const [theirs, nothing] of pairs) {
      const got = await attempt(theirs);
      const missing = await attempt(nothing);
      expect(missing.code).toBe("NOT_FOUND");
      expect(got.code, theirs).toBe("NOT_FOUND");
      expect(got.message.replaceAll(theirs, "<ref>").replaceAll("alicens", "<ns>")).toBe(
        missing.message.replaceAll(nothing, "<ref>").replaceAll("nobodyns", "<ns>"),
      );
    }
    expect(await aliceState()).toEqual(before);
  });
});
