import type { AtEvent } from "@berth/core";
import { basic, pushImage, randomImage } from "@berth/harness";
import type { CreatedAccount } from "@berth/registry";
import { sql } from "drizzle-orm";
import { expect } from "vitest";
import { crn } from "./expect-events";
import { rid, type TestServer } from "./helpers";

// Images for the retention tests: pushed over /v2, aged in the database (a push is "now"),
// pulled over /v2 (so pull tracking is what protects them) or given an old recorded pull.

/** `label`: tagged `:label` or untagged (pushed by digest), `age` days old, pulled when. */
export type ImageSpec = [
  label: string,
  tagged: boolean,
  age: number,
  pulled: "now" | number | null,
];

export async function pushAged(
  env: TestServer,
  who: CreatedAccount,
  repository: string,
  [label, tagged, age, pulled]: ImageSpec,
): Promise<string> {
  const image = randomImage([32]);
  const auth = basic("iamapikey", who.apiKey);
  await pushImage(env.url(), repository, tagged ? label : image.digest, image, {
    auth,
    requestId: rid("push"),
  });
  await env.t.db.execute(sql`
    update manifests set created_at = now() - make_interval(days => ${age})
     where digest = ${image.digest}
       and repository_id = (select id from repositories where name = ${repository})`);
  if (pulled === "now") {
    const res = await fetch(`${env.url()}/v2/${repository}/manifests/${image.digest}`, {
      headers: { authorization: auth, accept: "application/vnd.oci.image.manifest.v1+json" },
    });
    expect(res.status, `pull of ${repository}@${image.digest}`).toBe(200);
    await res.arrayBuffer();
  } else if (pulled !== null) {
    await env.t.db.execute(sql`
      insert into manifest_pulls (repository_id, digest, last_pulled_at)
      select id, ${image.digest}, now() - make_interval(days => ${pulled})
        from repositories where name = ${repository}`);
  }
  return image.digest;
}

/** The initiator of the registry's own work (scheduled runs, removals by a policy). */
export const SERVICE_INITIATOR = {
  id: "ServiceId-container-registry",
  name: "container-registry",
  typeURI: "service/security/account/serviceid",
  credential: { type: "token" },
  host: { address: "127.0.0.1", addressType: "IPv4", agent: "container-registry" },
};

/** An image.rm event of a retention run, field by field. */
export function checkRetentionRemoval(
  event: AtEvent,
  who: CreatedAccount,
  expected: {
    repository: string;
    digest: string;
    requestId: string;
    requestData: Record<string, unknown>;
    tags: string[];
  },
): void {
  const name = `${expected.repository}@${expected.digest}`;
  expect(event.action).toBe("container-registry.image.rm");
  expect(event.outcome).toBe("success");
  expect(event.severity).toBe("critical");
  expect(event.dataEvent).toBe(true);
  expect(event.message).toBe(`Container Registry: remove image ${name}`);
  expect(event.initiator).toEqual(SERVICE_INITIATOR);
  expect(event.target).toEqual({
    id: crn("us-south", who.account.id, "image", name),
    name,
    typeURI: "container-registry/image",
  });
  expect(event.reason).toEqual({ reasonCode: 200, reasonType: "OK" });
  expect(event.requestData).toEqual(expected.requestData);
  expect(event.responseData).toEqual({
    digest: expected.digest,
    tags: expected.tags,
    trashedUntil: expect.any(String),
  });
  expect(event.correlationId).toBe(expected.requestId);
}
