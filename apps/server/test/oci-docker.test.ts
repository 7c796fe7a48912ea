import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AtEvent } from "@berth/core";
import type { CreatedAccount } from "@berth/registry";
import { afterAll, describe, expect, it } from "vitest";
import { type Dockerd, startDockerd } from "./dockerd";
import { forFile } from "./helpers";
import { loggedRequests, startOciEnv } from "./oci-helpers";

/*
 * The docker CLI (Debian's docker.io) against a real server, through a private dockerd that
 * this file starts and removes. The daemon is what talks to the registry: it logs in, pushes
 * and pulls (plain HTTP, since Docker allows it for 127.0.0.0/8). Without root the daemon
 * cannot start and the file is skipped, saying so; in CI (root) that is a failure.
 */

const started = await startDockerd();
if ("unavailable" in started && process.env.CI) {
  throw new Error(`dockerd could not start in CI: ${started.unavailable}`);
}
/** Per test: a few docker commands, each bounded at 180 s, on a machine that may be loaded. */
const DOCKER_TEST_MS = 600_000;
const daemon: Dockerd | undefined = "unavailable" in started ? undefined : started;
afterAll(async () => daemon?.close());

if (!daemon) {
  // Said where a default run shows it, beside the skipped test that names it too.
  console.warn(
    `oci-docker.test.ts skipped: ${"unavailable" in started ? started.unavailable : ""}`,
  );
  it.skip(`docker CLI tests: ${"unavailable" in started ? started.unavailable : ""}`, () => {});
} else {
  const env = await forFile(startOciEnv());
  await env.namespace(env.alice, "alicens");
  await env.namespace(env.bob, "bobns");
  const host = env.host;
  const alice = daemon.config("alice");
  const bob = daemon.config("bob");
  const docker = (config: string, args: string[]) => daemon.ok(config, args);
  const loginArgs = (user: string) => ["login", "--username", user, "--password-stdin", host];
  const login = (config: string, user: string, password: string) =>
    daemon.ok(config, loginArgs(user), password);
  /** The digest `docker push` reports for the tag it pushed. */
  const push = async (config: string, ref: string) => {
    const out = await docker(config, ["push", ref]);
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
    expect(digest, `docker push ${ref} printed no digest:\n${out}`).toBeDefined();
    return digest!;
  };
  /** A docker command that must fail; returns what it printed. */
  const refused = async (config: string, args: string[], input?: string) => {
    const r = await daemon.run(config, args, input);
    expect(r.code, `docker ${args.join(" ")} succeeded:\n${r.stdout}`).not.toBe(0);
    return r.stderr;
  };
  /** The request ids the server logged for `method` on `url`. */
  const requestIds = (method: string, url: string) =>
    loggedRequests(env.logs)
      .filter((r) => r.method === method && r.url === url)
      .map((r) => r.id);
  const eventsOf = async (action: string, accountId: string) =>
    (await env.allEvents(`container-registry.${action}`)).filter((e) =>
      e.logSourceCRN.includes(`:a/${accountId}::`),
    );
  /** Who an event says did it, beside who a docker login with `who`'s API key is. */
  const expectDockerUser = (e: AtEvent, who: CreatedAccount) =>
    expect({
      id: e.initiator.id,
      credential: e.initiator.credential.type,
      address: e.initiator.host.address,
      agent: e.initiator.host.agent,
      account: e.logSourceCRN.includes(`:a/${who.account.id}::`),
    }).toEqual({
      id: who.user.id,
      credential: "apikey",
      address: "127.0.0.1",
      agent: expect.stringMatching(/^docker\/.*UpstreamClient\(Docker-Client\//),
      account: true,
    });

  /**
   * A three-layer image built FROM scratch (no network, no container run: COPY only), with
   * random bytes so no two builds share a digest; returns its image id.
   */
  const build = async (name: string) => {
    const context = join(daemon.tmp, `context-${name.replace(/\W/g, "-")}`);
    mkdirSync(context);
    writeFileSync(join(context, "big.bin"), randomBytes(400_000));
    writeFileSync(join(context, "small.bin"), randomBytes(30_000));
    writeFileSync(join(context, "run"), "#!/bin/sh\necho hello\n");
    writeFileSync(
      join(context, "Dockerfile"),
      'FROM scratch\nCOPY big.bin /data/big.bin\nCOPY small.bin /data/small.bin\nCOPY run /run\nCMD ["/run"]\n',
    );
    await docker(alice, ["build", "--tag", name, context]);
    return (await docker(alice, ["image", "inspect", "--format", "{{.Id}}", name])).trim();
  };
  const imageId = await build("local/app:1");
  const app = (tag: string) => `${host}/alicens/app:${tag}`;
  let pushed = "";
  /**
   * Tag the pulled image as `repository:v1` and push it (the same digest); returns the
   * upload POSTs the push made there, as the server logged them.
   */
  const pushCopy = async (config: string, repository: string) => {
    const before = loggedRequests(env.logs).length;
    await docker(config, ["tag", app("v1"), `${host}/${repository}:v1`]);
    expect(await push(config, `${host}/${repository}:v1`)).toBe(pushed);
    return loggedRequests(env.logs)
      .slice(before)
      .filter((r) => r.method === "POST" && r.url === `/v2/${repository}/blobs/uploads/`);
  };

  describe("docker with an API key", () => {
    it(
      "logs in and pushes a three-layer image under two tags",
      async () => {
        await login(alice, "iamapikey", env.alice.apiKey);
        await docker(alice, ["tag", "local/app:1", app("v1")]);
        await docker(alice, ["tag", "local/app:1", app("v2")]);
        pushed = await push(alice, app("v1"));
        expect(await push(alice, app("v2"))).toBe(pushed);

        const listed = await env.client(env.alice).image.list.query({ repository: "alicens/app" });
        expect(listed.items.map((i) => [i.tag, i.digest])).toEqual([
          ["v1", pushed],
          ["v2", pushed],
        ]);
        expect(listed.items[0]!.mediaType).toBe(
          "application/vnd.docker.distribution.manifest.v2+json",
        );
        const repoDigests = await docker(alice, [
          "image",
          "inspect",
          "--format",
          "{{json .RepoDigests}}",
          app("v1"),
        ]);
        expect(JSON.parse(repoDigests)).toContain(`${host}/alicens/app@${pushed}`);

        const pushes = await eventsOf("image.push", env.alice.account.id);
        expect(pushes.map((e) => [e.outcome, e.target.name])).toEqual([
          ["success", "alicens/app:v1"],
          ["success", "alicens/app:v2"],
        ]);
        for (const [i, tag] of ["v1", "v2"].entries()) {
          const event = pushes[i]!;
          expect(event.target.id.endsWith(`::image:alicens/app@${pushed}`)).toBe(true);
          expectDockerUser(event, env.alice);
          expect(requestIds("PUT", `/v2/alicens/app/manifests/${tag}`)).toEqual([
            event.correlationId,
          ]);
        }
      },
      DOCKER_TEST_MS,
    );

    it(
      "pulls the image back after docker rmi: the same digest and image id",
      async () => {
        await docker(alice, ["rmi", app("v1"), app("v2"), "local/app:1"]);
        const gone = await daemon.run(alice, ["image", "inspect", imageId]);
        expect(gone.code, "the image is still in the daemon after rmi").not.toBe(0);

        const out = await docker(alice, ["pull", app("v1")]);
        expect(out).toContain(`Digest: ${pushed}`);
        // The image id is the config's digest, and the daemon checked every layer's diff id
        // against it: the same id means the same image, byte for byte.
        expect(
          (await docker(alice, ["image", "inspect", "--format", "{{.Id}}", app("v1")])).trim(),
        ).toBe(imageId);

        // docker resolves the tag with a HEAD (not audited: nothing is served) and then GETs
        // the manifest by digest: one pull event, named as requested.
        const pulls = await eventsOf("image.pull", env.alice.account.id);
        expect(pulls.map((e) => [e.outcome, e.target.name])).toEqual([
          ["success", `alicens/app@${pushed}`],
        ]);
        expectDockerUser(pulls[0]!, env.alice);
        expect(requestIds("GET", `/v2/alicens/app/manifests/${pushed}`)).toEqual([
          pulls[0]!.correlationId,
        ]);
      },
      DOCKER_TEST_MS,
    );

    it(
      "pushes to another repository by mounting the layers from the first",
      async () => {
        const posts = await pushCopy(alice, "alicens/copy");
        // A mount is the only upload POST answered 201 (a new session is 202).
        expect(posts.filter((r) => r.status === 201).length).toBeGreaterThanOrEqual(3);
      },
      DOCKER_TEST_MS,
    );
  });

  describe("another tenant's docker login", () => {
    it(
      "cannot pull alice's repository: not found, and a failure event of bob's",
      async () => {
        await login(bob, "iamapikey", env.bob.apiKey);
        const said = await refused(bob, ["pull", app("v1")]);
        expect(said).toMatch(/not found|manifest unknown|does not exist/i);
        expect(said).not.toContain(pushed);
        const [pull, ...more] = await eventsOf("image.pull", env.bob.account.id);
        expect(more).toEqual([]);
        expect([pull?.outcome, pull?.target.name, pull?.reason.reasonCode]).toEqual([
          "failure",
          "alicens/app:v1",
          404,
        ]);
        expectDockerUser(pull!, env.bob);
        expect(requestIds("GET", "/v2/alicens/app/manifests/v1")).toEqual([pull!.correlationId]);
      },
      DOCKER_TEST_MS,
    );

    it(
      "cannot push to alice's repository: denied, nothing stored",
      async () => {
        await docker(bob, ["tag", app("v1"), app("bobs")]);
        expect(await refused(bob, ["push", app("bobs")])).toMatch(/denied/i);
        const tags = await env.client(env.alice).image.list.query({ repository: "alicens/app" });
        expect(tags.items.map((i) => i.tag)).toEqual(["v1", "v2"]);
        // docker retries each refused upload; every attempt is a failure event of bob's.
        const pushes = await eventsOf("image.push", env.bob.account.id);
        expect(pushes.length).toBeGreaterThan(0);
        for (const event of pushes) {
          expect([event.outcome, event.target.name, event.reason.reasonCode]).toEqual([
            "failure",
            "alicens/app",
            403,
          ]);
          expectDockerUser(event, env.bob);
        }
        expect(await eventsOf("image.push", env.alice.account.id)).toHaveLength(3);
      },
      DOCKER_TEST_MS,
    );

    it(
      "pushes the same layers to its own repository by uploading them, never by mounting alice's",
      async () => {
        // The daemon remembers that these layers came from alicens/app, so it asks to mount
        // them from there: the answer must be a new upload session, never the blob.
        const posts = await pushCopy(bob, "bobns/mine");
        expect(posts.length).toBeGreaterThanOrEqual(4);
        expect(posts.map((r) => r.status).filter((s) => s !== 202)).toEqual([]);
        const pushes = await eventsOf("image.push", env.bob.account.id);
        expect(pushes.at(-1)!.target.name).toBe("bobns/mine:v1");
        expectDockerUser(pushes.at(-1)!, env.bob);
      },
      DOCKER_TEST_MS,
    );
  });

  describe("docker with a registry token", () => {
    it(
      "pulls while the token exists, and is refused once it is revoked",
      async () => {
        const token = await env.client(env.alice).registrytoken.create.mutate({
          access: "read",
          description: "docker",
        });
        // An image this daemon has never pulled: the daemon keeps the manifests it pulled in
        // its content store (until containerd's garbage collection, whenever that runs) and,
        // when a tag resolves to one of them, never GETs it again, so a pull of v2 here could
        // leave no event. It pushes without caching the manifest (the rmi test above shows it).
        const freshId = await build("local/app:token");
        await docker(alice, ["tag", "local/app:token", app("token")]);
        const digest = await push(alice, app("token"));
        await docker(alice, ["rmi", "--force", freshId]);
        const gone = await daemon.run(alice, ["image", "inspect", freshId]);
        expect(gone.code, "the image is still in the daemon after rmi").not.toBe(0);

        const ci = daemon.config("token");
        await login(ci, token.username, token.secret);
        const before = (await eventsOf("image.pull", env.alice.account.id)).length;
        expect(await docker(ci, ["pull", app("token")])).toContain(`Digest: ${digest}`);
        const pulls = (await eventsOf("image.pull", env.alice.account.id)).slice(before);
        expect(
          pulls.map((e) => [
            e.outcome,
            e.target.name,
            e.initiator.credential.type,
            e.initiator.typeURI,
          ]),
          "the token's pull: one event, the token's",
        ).toEqual([
          ["success", `alicens/app@${digest}`, "token", "service/security/account/serviceid"],
        ]);
        const pull = pulls[0]!;
        expect(requestIds("GET", `/v2/alicens/app/manifests/${digest}`)).toEqual([
          pull.correlationId,
        ]);

        await env.client(env.alice).registrytoken.delete.mutate({ id: token.id });
        expect(await refused(ci, ["pull", app("v2")])).toMatch(
          /unauthorized|authentication required/i,
        );
        expect(await refused(ci, loginArgs(token.username), token.secret)).toMatch(
          /unauthorized|invalid|expired/i,
        );
        expect((await eventsOf("image.pull", env.alice.account.id)).at(-1)).toEqual(pull);
      },
      DOCKER_TEST_MS,
    );
  });

  it("left no credential in the server's logs or the events", async () => {
    const logs = env.logs.join("\n");
    const events = JSON.stringify(await env.allEvents());
    for (const secret of [env.alice.apiKey, env.bob.apiKey]) {
      expect(logs).not.toContain(secret);
      expect(events).not.toContain(secret);
    }
    expect(logs).not.toMatch(/eyJ[\w-]+\.eyJ|berth_rt_/);
    expect(events).not.toMatch(/eyJ[\w-]+\.eyJ|berth_rt_/);
  });
}
