import { z } from "zod";

// Retention (issue 19): what a run of a namespace's policy keeps and removes. One pure
// planning function serves both retention.analyze and a run, so what analyze lists is what
// a run then removes; a run re-plans each image in the transaction that removes it.

/** Most images a policy may keep per repository (a bigger number is a typo, not a policy). */
export const MAX_IMAGES_PER_REPOSITORY = 10_000;
/** Longest pull protection, in days (ten years). */
export const MAX_KEEP_PULLED_DAYS = 3650;
/** Pull protection when a policy does not say. */
export const DEFAULT_KEEP_PULLED_DAYS = 30;
/**
 * Pull times are recorded at most once an hour per image (a pull writes only when the stored
 * time is older), so a recorded time may be up to this much before the real last pull: the
 * protection window is widened by it, so that it errs on the side of keeping.
 */
export const PULL_RECORD_RESOLUTION_MS = 3_600_000;
const DAY_MS = 86_400_000;

export const retentionPolicySchema = z.strictObject({
  /** Images kept per repository, newest first (untagged images are not counted). */
  imagesPerRepository: z.int().min(1).max(MAX_IMAGES_PER_REPOSITORY),
  /** Keep every untagged image; otherwise untagged images are removed. */
  keepUntagged: z.boolean().default(false),
  /** Never remove an image pulled within this many days (0: pulls do not protect). */
  keepPulledWithinDays: z.int().min(0).max(MAX_KEEP_PULLED_DAYS).default(DEFAULT_KEEP_PULLED_DAYS),
});
export type RetentionPolicy = z.output<typeof retentionPolicySchema>;
export type RetentionPolicyInput = z.input<typeof retentionPolicySchema>;

/** An image of a repository as retention sees it (a top-level manifest: an index counts once). */
export interface RetentionImage {
  repository: string;
  digest: string;
  tags: readonly string[];
  /** When it was pushed: age order, newest first. */
  pushedAt: Date;
  /** Last recorded pull of it (or of one of its platform manifests), or null. */
  lastPulledAt: Date | null;
  /** It has tags that tag immutability forbids removing: retention leaves it alone. */
  immutable?: boolean;
}

/** Why an image stays. */
export type KeepReason =
  | "newest"
  | "within-count"
  | "untagged-kept"
  | "immutable-tags"
  | "recently-pulled";
/** Why an image goes. */
export type RemoveReason = "beyond-count" | "untagged";

export type RetentionDecision<T extends RetentionImage = RetentionImage> =
  | { image: T; action: "keep"; reason: KeepReason }
  | { image: T; action: "remove"; reason: RemoveReason };

export interface RetentionPlan<T extends RetentionImage = RetentionImage> {
  keep: Extract<RetentionDecision<T>, { action: "keep" }>[];
  remove: Extract<RetentionDecision<T>, { action: "remove" }>[];
}

/** Newest first; equal times by digest, so a plan never depends on input order. */
function byAge(a: RetentionImage, b: RetentionImage): number {
  const t = b.pushedAt.getTime() - a.pushedAt.getTime();
  if (t !== 0) return t;
  return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
}

function pulledRecently(image: RetentionImage, policy: RetentionPolicy, now: Date): boolean {
  if (policy.keepPulledWithinDays === 0 || !image.lastPulledAt) return false;
  const since = now.getTime() - policy.keepPulledWithinDays * DAY_MS - PULL_RECORD_RESOLUTION_MS;
  return image.lastPulledAt.getTime() >= since;
}

/**
 * What a run of `policy` at `now` does to these images. Per repository: the newest image is
 * always kept; of the tagged images the `imagesPerRepository` newest are kept; untagged
 * images are kept when the policy says so and otherwise removed; an image whose tags are
 * immutable, or pulled within `keepPulledWithinDays`, is never removed. The first rule that keeps an image is its reason.
 * Each image is in exactly one of `keep` and `remove`, in repository then age order.
 */
export function planRetention<T extends RetentionImage>(
  policy: RetentionPolicy,
  images: readonly T[],
  now: Date,
): RetentionPlan<T> {
  const byRepository = new Map<string, T[]>();
  for (const image of images) {
    const list = byRepository.get(image.repository) ?? [];
    list.push(image);
    byRepository.set(image.repository, list);
  }
  const plan: RetentionPlan<T> = { keep: [], remove: [] };
  for (const repository of [...byRepository.keys()].sort()) {
    const list = byRepository.get(repository)!.sort(byAge);
    let taggedSeen = 0;
    list.forEach((image, i) => {
      const tagged = image.tags.length > 0;
      if (tagged) taggedSeen++;
      let keep: KeepReason | undefined;
      if (i === 0) keep = "newest";
      else if (tagged && taggedSeen <= policy.imagesPerRepository) keep = "within-count";
      else if (!tagged && policy.keepUntagged) keep = "untagged-kept";
      else if (tagged && image.immutable) keep = "immutable-tags";
      else if (pulledRecently(image, policy, now)) keep = "recently-pulled";
      if (keep) plan.keep.push({ image, action: "keep", reason: keep });
      else
        plan.remove.push({ image, action: "remove", reason: tagged ? "beyond-count" : "untagged" });
    });
  }
  return plan;
}
