// Issue 19, BERTH_TRASH_DAYS: validated when the server starts (a bad value names the
// variable), and the period it sets is what image.rm, image.bulkdelete, the OCI DELETE and
// image.prune-untagged give a deleted image in the trash.

import { basic } from "@berth/harness";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config";
import { forFile, startTestServer } from "./helpers";

const DAY = 86_400_000;
const env = await forFile(
  startTestServer({ trashDays: loadConfig({ BERTH_TRASH_DAYS: "3" }).trashDays }),
);

describe("BERTH_TRASH_DAYS", () => {
  it("defaults to 30 and takes a whole number of days from 1 to 3650", () => {
    expect(loadConfig({}).trashDays).toBe(30);
    expect(loadConfig({ BERTH_TRASH_DAYS: "7" }).trashDays).toBe(7);
    for (const bad of ["0", "-1", "1.5", "soon", "3651"]) {
      expect(() => loadConfig({ BERTH_TRASH_DAYS: bad }), bad).toThrow(ConfigError);
      expect(() => loadConfig({ BERTH_TRASH_DAYS: bad }), bad).toThrow(/BERTH_TRASH_DAYS/);
    }
  });
});

describe("a server started with BERTH_TRASH_DAYS=3", () => {
  it("keeps what image.rm, image.bulkdelete, the OCI DELETE and a prune delete for 3 days", async () => {
    const image = (repository: string, tag: string) => env.image(env.alice, repository, tag);
    const client = env.client(env.alice);
    await client.namespace.create.mutate({ name: "days" });
    await image("days/rm", "1");
    await image("days/bulk", "1");
    const deleted = await image("days/oci", "1");
    await image("days/prune", "1");
    await client.image.untag.mutate({ images: ["days/prune:1"] });

    await client.image.rm.mutate({ images: ["days/rm:1"] });
    await client.image.bulkdelete.mutate({ images: ["days/bulk:1"] });
    const del = await fetch(`${env.url()}/v2/days/oci/manifests/${deleted.digest}`, {
      method: "DELETE",
      headers: { authorization: basic("iamapikey", env.alice.apiKey) },
    });
    expect(del.status).toBe(202);
    await client.image["prune-untagged"].mutate({ namespace: "days" });

    const items = await client.trash.list.query();
    expect(items.map((i) => [i.repository, i.reason]).sort()).toEqual([
      ["days/bulk", "image.bulkdelete"],
      ["days/oci", "image.delete"],
      ["days/prune", "image.prune-untagged"],
      ["days/rm", "image.rm"],
    ]);
    for (const i of items) {
      expect(Date.parse(i.expiresAt) - Date.parse(i.deletedAt), i.repository).toBe(3 * DAY);
    }
  });
});
