import type { BerthClient } from "@berth/client";
import { forFile, startTestServer, type TestServer } from "./helpers";

/**
 * The two tenants of the build tests, for a whole test file (top-level await): a server
 * (closed after the file), a client for alice with her namespace `alicens` and one for bob
 * with `bobns`.
 */
export async function buildTenants(): Promise<{
  env: TestServer;
  alice: BerthClient;
  bob: BerthClient;
}> {
  const env = await forFile(startTestServer());
  const alice = env.client(env.alice);
  const bob = env.client(env.bob);
  await alice.namespace.create.mutate({ name: "alicens" });
  await bob.namespace.create.mutate({ name: "bobns" });
  return { env, alice, bob };
}
