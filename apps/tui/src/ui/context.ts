import { type Key, useInput } from "ink";
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
} from "react";
import { errorMessage } from "../api";

export interface UiEnv {
  /** False when stdin is not a terminal: no keyboard hook may then be active (Ink throws). */
  interactive: boolean;
  /** Take the keyboard from the app's global keys (a form or dialog is open); returns the release. */
  capture(): () => void;
  /** The help bar's keys for the current screen. */
  setHelp(items: HelpItem[]): void;
  url?: string;
  /** Items a list screen fetches at a time (see pages.ts). */
  pageSize?: number;
}

export type HelpItem = [key: string, what: string];

export const UiContext = createContext<UiEnv>({
  interactive: false,
  capture: () => () => {},
  setHelp: () => {},
});

export function useUi(): UiEnv {
  return useContext(UiContext);
}

/**
 * useInput, active only on a terminal and while `active`. The handler is held in a ref, so
 * Ink keeps one subscription instead of re-subscribing on every render (a key arriving
 * between a render and its effects would otherwise be lost).
 */
export function useKeys(handler: (input: string, key: Key) => void, active = true): void {
  const { interactive } = useUi();
  useStableInput(handler, interactive && active);
}

export function useStableInput(handler: (input: string, key: Key) => void, active: boolean): void {
  const ref = useRef(handler);
  ref.current = handler;
  const stable = useCallback((input: string, key: Key) => ref.current(input, key), []);
  useInput(stable, { isActive: active });
}

/**
 * While `active`, the app's global keys (q, digits, g) are off: a form or dialog owns them.
 * A layout effect: taken and released in the commit that draws the change, so no key can
 * arrive between the frame and the app's knowing.
 */
export function useCapture(active: boolean): void {
  const { capture } = useUi();
  useLayoutEffect(() => (active ? capture() : undefined), [active, capture]);
}

export function useHelp(items: HelpItem[]): void {
  const { setHelp } = useUi();
  const text = JSON.stringify(items);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the items are compared by content
  useEffect(() => setHelp(items), [text, setHelp]);
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload(): void;
}

/** Run a call when `key` changes (and on reload); a stale answer never overwrites a newer one. */
export function useLoad<T>(fn: () => Promise<T>, key: string): Loaded<T> {
  const { url } = useUi();
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({
    loading: true,
  });
  const [nonce, setNonce] = useState(0);
  const latest = useRef(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  // biome-ignore lint/correctness/useExhaustiveDependencies: key and nonce are the triggers
  useEffect(() => {
    const id = ++latest.current;
    setState((s) => ({ ...s, loading: true }));
    fnRef.current().then(
      (data) => {
        if (id === latest.current) setState({ data, loading: false });
      },
      (error: unknown) => {
        if (id === latest.current) {
          setState((s) => ({ ...s, error: errorMessage(error, url), loading: false }));
        }
      },
    );
  }, [key, nonce, url]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export interface ActionState {
  busy: string | undefined;
  error: string | undefined;
  notice: string | undefined;
  /** Run a mutation: spinner with `label` while it runs, then the notice or the server's error. */
  run<T>(label: string, fn: () => Promise<T>, done?: (result: T) => string | undefined): void;
  clear(): void;
}

export function useAction(): ActionState {
  const { url } = useUi();
  const [state, setState] = useState<{ busy?: string; error?: string; notice?: string }>({});
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
    },
    [],
  );
  const run = useCallback(
    <T>(label: string, fn: () => Promise<T>, done?: (result: T) => string | undefined) => {
      setState({ busy: label });
      // `done` may throw too (a bulk call whose items failed): that is shown as the error.
      fn()
        .then((result) => (mounted.current ? done?.(result) : undefined))
        .then(
          (notice) => {
            if (mounted.current) setState(notice ? { notice } : {});
          },
          (error: unknown) => {
            if (mounted.current) setState({ error: errorMessage(error, url) });
          },
        );
    },
    [url],
  );
  const clear = useCallback(() => setState({}), []);
  return { busy: state.busy, error: state.error, notice: state.notice, run, clear };
}
