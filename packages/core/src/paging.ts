import { z } from "zod";

/** Items of a list page when the caller does not say how many. */
export const DEFAULT_PAGE_SIZE = 100;
/** The most items one page of a list holds. */
export const MAX_PAGE_SIZE = 1000;
/** Longer than any cursor this code writes: a longer one was not written here. */
export const MAX_CURSOR_LENGTH = 1024;

/** One page of a list: `nextCursor` asks for the next one, null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * The position after the last item of a page, for keyset pagination: the sort key of that
 * item (the list's order ends with a unique column, so the key names one row), written as
 * opaque base64url JSON tagged with the list it belongs to. A cursor carries no rights:
 * every page is read under the caller's own account, so a cursor only says where to start.
 */
export interface CursorCodec<K> {
  encode(key: K): string;
  /** Validates a cursor at the boundary: refuses any text this list did not write. */
  schema: z.ZodType<K, string>;
}

export function cursorCodec<S extends z.ZodType>(list: string, key: S): CursorCodec<z.output<S>> {
  const envelope = z.object({ l: z.literal(list), k: key }).strict();
  const refusal = `not a cursor of ${list}; pass the nextCursor of the previous page unchanged`;
  return {
    encode: (k) => Buffer.from(JSON.stringify({ l: list, k }), "utf8").toString("base64url"),
    schema: z.string().transform((text, ctx) => {
      if (text.length > MAX_CURSOR_LENGTH) {
        ctx.addIssue({ code: "custom", message: refusal });
        return z.NEVER;
      }
      let json: unknown;
      try {
        const bytes = Buffer.from(text, "base64url");
        // The decoder skips what it cannot read: only the exact text this code writes passes.
        if (bytes.toString("base64url") !== text) throw new Error("not base64url");
        json = JSON.parse(bytes.toString("utf8"));
      } catch {
        ctx.addIssue({ code: "custom", message: refusal });
        return z.NEVER;
      }
      const parsed = envelope.safeParse(json);
      if (!parsed.success) {
        ctx.addIssue({ code: "custom", message: refusal });
        return z.NEVER;
      }
      return (parsed.data as { k: z.output<S> }).k;
    }),
  };
}

/** `limit` and `cursor` of a paged list, to spread into its input object. */
export function pageInput<K>(codec: CursorCodec<K>) {
  return {
    /** Items in the page. */
    limit: z.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
    /** `nextCursor` of the previous page; none (or null) for the first page. */
    cursor: codec.schema.nullish(),
  };
}

/** What a caller passes to a paged list. */
export interface PageRequest {
  limit?: number;
  cursor?: string | null;
}

/**
 * The page out of `rows` read with `limit + 1`: the extra row only says that more follow,
 * and the cursor points after the last row kept.
 */
export function pageOf<R, T, K>(
  rows: R[],
  limit: number,
  item: (row: R) => T,
  key: (row: R) => K,
  codec: CursorCodec<K>,
): Page<T> {
  const kept = rows.slice(0, limit);
  const last = kept[kept.length - 1];
  return {
    items: kept.map(item),
    nextCursor: rows.length > limit && last !== undefined ? codec.encode(key(last)) : null,
  };
}

/**
 * Every page of a list, first to last, as the caller reads them: `fetch` gets the cursor
 * of the page to read (none for the first). Stops when a page says it is the last, or when
 * a cursor comes back that was already followed (a list that pages in a circle).
 */
export async function* followPages<T>(
  fetch: (cursor: string | undefined) => Promise<Page<T>>,
): AsyncGenerator<T[], void, undefined> {
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (;;) {
    const page = await fetch(cursor);
    yield page.items;
    if (page.nextCursor === null || seen.has(page.nextCursor)) return;
    seen.add(page.nextCursor);
    cursor = page.nextCursor;
  }
}

/** Every item of a list, reading all its pages. */
export async function allPages<T>(
  fetch: (cursor: string | undefined) => Promise<Page<T>>,
): Promise<T[]> {
  const items: T[] = [];
  for await (const page of followPages(fetch)) items.push(...page);
  return items;
}
