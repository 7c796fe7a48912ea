import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectOneEvent, rid, startTestServer, type TestServer } from "./helpers";

let env: TestServer;
beforeAll(async () => {
  env = await startTestServer();
});
afterAll(async () => env?.close());

describe("smoke", () => {
  it("creates a namespace", async () => {
    const requestId = rid();
    const res = await env
      .client(env.alice)
      .namespace.create.mutate({ name: "birds" }, { context: { requestId } });
    expect(res.name).toBe("birds");
    await expectOneEvent(env, requestId, {
      action: "container-registry.namespace.create",
      outcome: "success",
      severity: "normal",
      reasonCode: 201,
      who: env.alice,
      targetType: "namespace",
      targetName: "birds",
      message: "Container Registry: create namespace birds",
    });
  });
});
