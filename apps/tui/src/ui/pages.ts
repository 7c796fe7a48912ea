import type { Page } from "@berth/core";
import { useCallback, useEffect, useRef, useState } from "react";
import { errorMessage } from "../api";
import { useUi } from "./context";

// A list screen loads a list lazily: the first page when shown, the next one only when the
// selection comes within a screenful of the last row loaded.

export type PageFetch<T> = (page: { limit?: number; cursor?: string }) => Promise<Page<T>>;

export interface Pages<T> {
  /** The rows of the pages loaded so far; undefined until the first page arrives. */
  data: T[] | undefined;
  error: string | undefined;
  loading: boolean;
  /** More pages follow the ones loaded. */
  more: boolean;
  /** From the first page again. */
  reload(): void;
  /** Fetch the next page, unless one is on its way or there is none. */
  loadMore(): void;
}

/**
 * The pages of a list, from the first when `key` changes (and on reload); an answer for an
 * older key or load never lands on a newer one.
 */
export function usePages<T>(fetch: PageFetch<T>, key: string): Pages<T> {
  const { url, pageSize } = useUi();
  const [state, setState] = useState<{
    data?: T[];
    error?: string;
    loading: boolean;
    next: string | null;
  }>({ loading: true, next: null });
  const [nonce, setNonce] = useState(0);
  const generation = useRef(0);
  // The cursor last asked for: a render that has not yet shown its page asks for it again.
  const requested = useRef<string | null>(null);
  const fetchRef = useRef(fetch);
  fetchRef.current = fetch;

  const get = useCallback(
    (cursor: string | undefined) => {
      const gen = generation.current;
      setState((s) => ({ ...s, loading: true }));
      fetchRef
        .current({ ...(pageSize ? { limit: pageSize } : {}), ...(cursor ? { cursor } : {}) })
        .then(
          (page) => {
            if (gen !== generation.current) return;
            setState((s) => ({
              data: cursor ? [...(s.data ?? []), ...page.items] : page.items,
              loading: false,
              next: page.nextCursor,
            }));
          },
          (error: unknown) => {
            if (gen !== generation.current) return;
            // Asked again when the selection next moves.
            if (cursor) requested.current = null;
            setState((s) => ({ ...s, error: errorMessage(error, url), loading: false }));
          },
        );
    },
    [pageSize, url],
  );

  // biome-ignore lint/correctness/useExhaustiveDependencies: key and nonce are the triggers
  useEffect(() => {
    generation.current++;
    requested.current = null;
    get(undefined);
  }, [key, nonce, get]);

  const { next } = state;
  const loadMore = useCallback(() => {
    if (next === null || requested.current === next) return;
    requested.current = next;
    get(next);
  }, [next, get]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return {
    data: state.data,
    error: state.error,
    loading: state.loading,
    more: next !== null,
    reload,
    loadMore,
  };
}

/** Load the next page once the selection is within `near` rows of the last one shown. */
export function useLoadNearEnd(
  pages: Pages<unknown>,
  list: { selected: number; rows: unknown[] },
  near: number,
): void {
  const { more, loadMore } = pages;
  const remaining = list.rows.length - 1 - list.selected;
  useEffect(() => {
    if (more && remaining < Math.max(1, near)) loadMore();
  }, [more, remaining, near, loadMore]);
}
