import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type KeepReason,
  PULL_RECORD_RESOLUTION_MS,
  planRetention,
  type RemoveReason,
  type RetentionImage,
  type RetentionPolicy,
  retentionPolicySchema,
} from "../src/index";

const DAY = 86_400_000;
const NOW = new Date("2026-06-01T12:00:00Z");
const daysAgo = (d: number) => new Date(NOW.getTime() - d * DAY);

/** `repo/name`, tagged or not, pushed `age` days ago, pulled `pulled` days ago (or never). */
type Row = [name: string, tagged: boolean, age: number, pulled: number | null];
const image = ([name, tagged, age, pulled]: Row): RetentionImage => ({
  repository: name.slice(0, name.lastIndexOf("/")),
  digest: `sha256:${name}`,
  tags: tagged ? [`t-${name}`] : [],
  pushedAt: daysAgo(age),
  lastPulledAt: pulled === null ? null : daysAgo(pulled),
});
const policy = (n: number, keepUntagged = false, days = 30): RetentionPolicy => ({
  imagesPerRepository: n,
  keepUntagged,
  keepPulledWithinDays: days,
});
type Outcome = Record<string, KeepReason | RemoveReason>;
/** The reason of each image; `immutable` names those whose tags may not be removed. */
const outcome = (p: RetentionPolicy, rows: Row[], immutable: string[] = []): Outcome => {
  const images = rows.map((r) => ({ ...image(r), immutable: immutable.includes(r[0]) }));
  const plan = planRetention(p, images, NOW);
  const out: Outcome = {};
  for (const d of [...plan.keep, ...plan.remove]) out[d.image.digest.slice(7)] = d.reason;
  return out;
};

describe("planRetention: the table of cases", () => {
  it.each<[string, RetentionPolicy, Row[], Outcome, immutable?: string[]]>([
    [
      "keeps the N newest tagged images per repository, removes the older ones",
      policy(2),
      [
        ["ns/a/1", true, 1, null],
        ["ns/a/2", true, 2, null],
        ["ns/a/3", true, 3, null],
        ["ns/a/4", true, 4, null],
      ],
      {
        "ns/a/1": "newest",
        "ns/a/2": "within-count",
        "ns/a/3": "beyond-count",
        "ns/a/4": "beyond-count",
      },
    ],
    [
      "counts per repository, not per namespace",
      policy(1),
      [
        ["ns/a/1", true, 1, null],
        ["ns/a/2", true, 2, null],
        ["ns/b/1", true, 5, null],
        ["ns/b/2", true, 6, null],
      ],
      {
        "ns/a/1": "newest",
        "ns/a/2": "beyond-count",
        "ns/b/1": "newest",
        "ns/b/2": "beyond-count",
      },
    ],
    [
      "removes untagged images, which do not use up the count",
      policy(2),
      [
        ["ns/a/1", true, 1, null],
        ["ns/a/u", false, 2, null],
        ["ns/a/2", true, 3, null],
        ["ns/a/3", true, 4, null],
      ],
      {
        "ns/a/1": "newest",
        "ns/a/u": "untagged",
        "ns/a/2": "within-count",
        "ns/a/3": "beyond-count",
      },
    ],
    [
      "keeps untagged images when the policy says so",
      policy(1, true),
      [
        ["ns/a/1", true, 1, null],
        ["ns/a/u", false, 2, null],
        ["ns/a/2", true, 3, null],
      ],
      { "ns/a/1": "newest", "ns/a/u": "untagged-kept", "ns/a/2": "beyond-count" },
    ],
    [
      "never removes an image pulled within the window, tagged or not",
      policy(1, false, 7),
      [
        ["ns/a/1", true, 1, null],
        ["ns/a/2", true, 20, 6],
        ["ns/a/3", true, 30, 8],
        ["ns/a/u", false, 40, 1],
      ],
      {
        "ns/a/1": "newest",
        "ns/a/2": "recently-pulled",
        "ns/a/3": "beyond-count",
        "ns/a/u": "recently-pulled",
      },
    ],
    [
      "a zero-day window: pulls protect nothing",
      policy(1, false, 0),
      [
        ["ns/a/1", true, 1, 0],
        ["ns/a/2", true, 2, 0],
      ],
      { "ns/a/1": "newest", "ns/a/2": "beyond-count" },
    ],
    [
      "never removes the newest image of a repository, even untagged",
      policy(1),
      [
        ["ns/a/u", false, 1, null],
        ["ns/a/1", true, 2, null],
        ["ns/a/2", true, 3, null],
      ],
      { "ns/a/u": "newest", "ns/a/1": "within-count", "ns/a/2": "beyond-count" },
    ],
    [
      "never removes an image whose tags are immutable (its untagged neighbours still go)",
      policy(1),
      [
        ["ns/a/1", true, 1, null],
        ["ns/a/i", true, 2, null],
        ["ns/a/u", false, 3, null],
      ],
      { "ns/a/1": "newest", "ns/a/i": "immutable-tags", "ns/a/u": "untagged" },
      ["ns/a/i", "ns/a/u"],
    ],
    [
      "a repository of one untagged image keeps it",
      policy(1),
      [["ns/a/u", false, 100, null]],
      { "ns/a/u": "newest" },
    ],
    [
      "a count above the number of images keeps everything",
      policy(10),
      [
        ["ns/a/1", true, 1, null],
        ["ns/a/2", true, 2, null],
      ],
      { "ns/a/1": "newest", "ns/a/2": "within-count" },
    ],
  ])("%s", (_, p, rows, expected, immutable = []) => {
    expect(outcome(p, rows, immutable)).toEqual(expected);
  });

  it("widens the pull window by the hour a recorded pull time may lag behind", () => {
    const p = policy(1, false, 1);
    const at = (ms: number): RetentionImage => ({
      ...image(["ns/a/old", true, 10, null]),
      lastPulledAt: new Date(NOW.getTime() - ms),
    });
    const newest = image(["ns/a/new", true, 1, null]);
    const plan = (ms: number) => planRetention(p, [newest, at(ms)], NOW).remove.length;
    expect(plan(DAY + PULL_RECORD_RESOLUTION_MS)).toBe(0);
    expect(plan(DAY + PULL_RECORD_RESOLUTION_MS + 1)).toBe(1);
  });

  it("breaks equal push times by digest, whatever the input order", () => {
    const rows: Row[] = [
      ["ns/a/b", true, 1, null],
      ["ns/a/a", true, 1, null],
    ];
    expect(outcome(policy(1), rows)).toEqual({ "ns/a/a": "newest", "ns/a/b": "beyond-count" });
    expect(outcome(policy(1), rows.reverse())).toEqual({
      "ns/a/a": "newest",
      "ns/a/b": "beyond-count",
    });
  });
});

describe("the policy's input", () => {
  it.each([
    [{ imagesPerRepository: 0 }, "imagesPerRepository"],
    [{ imagesPerRepository: -1 }, "imagesPerRepository"],
    [{ imagesPerRepository: 1.5 }, "imagesPerRepository"],
    [{ imagesPerRepository: 1e12 }, "imagesPerRepository"],
    [{ imagesPerRepository: 3, keepPulledWithinDays: -1 }, "keepPulledWithinDays"],
    [{ imagesPerRepository: 3, keepPulledWithinDays: 100_000 }, "keepPulledWithinDays"],
    [{ imagesPerRepository: 3, keepUntagged: "yes" }, "keepUntagged"],
    [{ imagesPerRepository: 3, extra: 1 }, ""],
  ])("refuses %j", (input, field) => {
    const parsed = retentionPolicySchema.safeParse(input);
    expect(parsed.success).toBe(false);
    if (field) expect(parsed.error!.issues[0]!.path).toEqual([field]);
  });

  it("defaults: untagged removed, pulls within 30 days protected", () => {
    expect(retentionPolicySchema.parse({ imagesPerRepository: 5 })).toEqual({
      imagesPerRepository: 5,
      keepUntagged: false,
      keepPulledWithinDays: 30,
    });
  });
});

const policyArb = fc.record({
  imagesPerRepository: fc.integer({ min: 1, max: 5 }),
  keepUntagged: fc.boolean(),
  keepPulledWithinDays: fc.integer({ min: 0, max: 10 }),
});
const imagesArb = fc
  .uniqueArray(
    fc.record({
      repository: fc.constantFrom("ns/a", "ns/b", "ns/c"),
      digest: fc.stringMatching(/^[0-9a-f]{4}$/).map((h) => `sha256:${h}`),
      tags: fc.constantFrom([], ["x"], ["x", "y"]),
      immutable: fc.boolean(),
      pushedAt: fc.integer({ min: 0, max: 30 }).map((d) => daysAgo(d)),
      lastPulledAt: fc.option(
        fc.integer({ min: 0, max: 20 * 24 }).map((h) => new Date(NOW.getTime() - h * 3_600_000)),
        { nil: null },
      ),
    }),
    { selector: (i) => `${i.repository}@${i.digest}`, maxLength: 25 },
  )
  .map((list) => list as RetentionImage[]);
const key = (i: RetentionImage) => `${i.repository}@${i.digest}`;
/** Images, and their keys in a random order. */
const shuffledImagesArb = imagesArb.chain((images) =>
  fc.tuple(
    fc.constant(images),
    fc.shuffledSubarray(images.map(key), { minLength: images.length, maxLength: images.length }),
  ),
);

describe("planRetention: properties", () => {
  it("sorts every image into exactly one of keep and remove", () => {
    fc.assert(
      fc.property(policyArb, imagesArb, (p, images) => {
        const plan = planRetention(p, images, NOW);
        const all = [...plan.keep, ...plan.remove].map((d) => key(d.image)).sort();
        expect(all).toEqual(images.map(key).sort());
      }),
    );
  });

  it("never removes a repository's newest image, one pulled within the window or one with immutable tags; keeps min(N, tagged) tagged", () => {
    fc.assert(
      fc.property(policyArb, imagesArb, (p, images) => {
        const plan = planRetention(p, images, NOW);
        const removed = new Set(plan.remove.map((d) => key(d.image)));
        for (const repo of new Set(images.map((i) => i.repository))) {
          const mine = images.filter((i) => i.repository === repo);
          const newest = Math.max(...mine.map((i) => i.pushedAt.getTime()));
          const newestOnes = mine.filter((i) => i.pushedAt.getTime() === newest);
          expect(newestOnes.some((i) => !removed.has(key(i)))).toBe(true);
          const tagged = mine.filter((i) => i.tags.length > 0);
          const keptTagged = tagged.filter((i) => !removed.has(key(i)));
          expect(keptTagged.length).toBeGreaterThanOrEqual(
            Math.min(p.imagesPerRepository, tagged.length),
          );
        }
        for (const d of plan.remove) {
          const pulled = d.image.lastPulledAt?.getTime();
          if (p.keepPulledWithinDays > 0 && pulled !== undefined) {
            expect(pulled).toBeLessThan(NOW.getTime() - p.keepPulledWithinDays * DAY);
          }
          if (p.keepUntagged) expect(d.image.tags.length).toBeGreaterThan(0);
          if (d.image.tags.length > 0) expect(d.image.immutable).toBe(false);
        }
      }),
    );
  });

  it("removing one image at a time, re-planning before each (as a run does), removes exactly the plan", () => {
    fc.assert(
      fc.property(policyArb, shuffledImagesArb, (p, [images, shuffled]) => {
        const planned = planRetention(p, images, NOW).remove.map((d) => key(d.image));
        // The run goes through the plan in any order; each removal is checked against a
        // fresh plan of what is left, and skipped if that plan now keeps the image.
        const order = shuffled.filter((k) => planned.includes(k));
        let left = images;
        const done: string[] = [];
        for (const k of order) {
          const again = planRetention(p, left, NOW).remove.map((d) => key(d.image));
          if (!again.includes(k)) continue;
          done.push(k);
          left = left.filter((i) => key(i) !== k);
        }
        expect(done.sort()).toEqual([...planned].sort());
        // And what is left is stable: a second run removes nothing.
        expect(planRetention(p, left, NOW).remove).toEqual([]);
      }),
    );
  });
});
