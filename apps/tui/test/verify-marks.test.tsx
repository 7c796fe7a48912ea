import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBerthClient } from "@berth/client";
import { encodeVerifierKey, generateSigningKey } from "@berth/tlog";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EventsScreen } from "../src/ui/screens/events";
import { renderSized, type Screen } from "./ink";
import { type Stack, startStack, until } from "./stack";

// The events screen marks the shown events that a verified checkpoint covers (✓), says which
// checkpoint and key verified them, and shows a failed verification (✗ on the named event and
// a red line) instead of hiding it. Against a live stack; the tracker's table is edited
// directly for the failure.

let stack: Stack;
const open: Screen[] = [];
let configDir: string;
const alice = () => createBerthClient({ url: stack.url, apiKey: stack.alice.apiKey });
const trust = (key: string) =>
  writeFileSync(
    join(configDir, "log-trust.json"),
    JSON.stringify({ keys: { "us-south": key }, checkpoints: {} }),
  );

async function settled(size: number) {
  await until(
    async () => {
      const [row] = await stack.t.sql<{ size: number; signed: number | null }[]>`
        select l.size::int, (select max(size)::int from tracker.checkpoints c
                              where c.account_id = l.account_id and c.region = l.region) as signed
          from tracker.logs l where l.account_id = ${stack.alice.account.id}`;
      return row?.size === size && row.signed === size;
    },
    `a checkpoint of size ${size}\n${stack.logs()}`,
    120_000,
  );
}

/** The screen alone, wide enough that the verification line is never cut. */
function screen(): Screen {
  const s = renderSized(
    <EventsScreen client={alice()} width={200} height={20} active={false} />,
    200,
    24,
  );
  open.push(s);
  return s;
}

const rowsMarked = (frame: string, mark: string) =>
  frame.split("\n").filter((l) => new RegExp(`^\\s*${mark}\\s+\\d{4}-\\d\\d-\\d\\d`).test(l))
    .length;

beforeAll(async () => {
  stack = await startStack();
  configDir = mkdtempSync(join(tmpdir(), "berth-marks-"));
  // The screen reads the key pinned beside the CLI's config (it never pins one itself).
  process.env.BERTH_CONFIG = join(configDir, "config.json");
  for (const name of ["marks-a", "marks-b", "marks-c"])
    await alice().namespace.create.mutate({ name });
  await settled(3);
}, 300_000);
afterAll(async () => stack?.stop());
afterEach(() => {
  for (const s of open.splice(0)) s.unmount();
});

describe("the events screen's verification marks", { timeout: 180_000 }, () => {
  it("marks each shown event ✓ and names the checkpoint and key; unpinned, it says so", async () => {
    const { key } = await alice().log.key.query();
    const label = key.split("+").slice(0, 2).join("+");
    const s = screen();
    const f = await s.waitFor(
      `✓ 3 shown events verified against checkpoint 3, key ${label} (not pinned: run berth events-verify)`,
      60_000,
    );
    expect(rowsMarked(f, "✓")).toBe(3);
    s.unmount();

    trust(key);
    const pinned = screen();
    await pinned.waitFor(`verified against checkpoint 3, key ${label} (pinned)`, 60_000);
    // Created while the screen is open: marked once a checkpoint covers it.
    await alice().namespace.create.mutate({ name: "marks-d" });
    const later = await pinned.waitFor("✓ 4 shown events verified against checkpoint 4", 60_000);
    expect(rowsMarked(later, "✓")).toBe(4);
  });

  it("shows a failed verification: the changed event marked ✗, the problem on a red line", async () => {
    const { key } = await alice().log.key.query();
    trust(key);
    const [row] = await stack.t.sql<{ id: string }[]>`
      select id::text from tracker.events where account_id = ${stack.alice.account.id} and log_index = 1`;
    await stack.t
      .sql`update tracker.events set payload = jsonb_set(payload, '{outcome}', '"failure"') where id = ${row!.id}`;
    try {
      const s = screen();
      const f = await s.waitFor(
        `✗ LOG VERIFICATION FAILED (checkpoint 4, key ${key.split("+").slice(0, 2).join("+")} (pinned)): event ${row!.id} at index 1 was changed`,
        60_000,
      );
      expect(rowsMarked(f, "✗")).toBe(1);
      expect(rowsMarked(f, "✓")).toBe(0);
    } finally {
      await stack.t
        .sql`update tracker.events set payload = jsonb_set(payload, '{outcome}', '"success"') where id = ${row!.id}`;
    }
  });

  it("a pinned key the tracker no longer serves fails loudly", async () => {
    trust(encodeVerifierKey(generateSigningKey("berth.tracker")));
    const s = screen();
    await s.waitFor(/✗ LOG VERIFICATION FAILED .*THE TRACKER'S KEY CHANGED/, 60_000);
    expect(rowsMarked(s.frame(), "✓")).toBe(0);
  });
});
