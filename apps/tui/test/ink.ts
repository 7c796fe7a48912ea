import { EventEmitter } from "node:events";
import { render as inkRender } from "ink";
import { render as renderTesting } from "ink-testing-library";
import type { ReactElement } from "react";
import { until } from "./stack";

/** ANSI colours and styles out, for reading and measuring frames. */
export function plain(frame: string | undefined): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are the point
  return (frame ?? "").replace(/\u001B\[[0-9;?]*[A-Za-z]/g, "");
}

export const KEY = {
  up: "\u001B[A",
  down: "\u001B[B",
  right: "\u001B[C",
  left: "\u001B[D",
  enter: "\r",
  escape: "\u001B",
  tab: "\t",
  space: " ",
};

export interface Screen {
  frame(): string;
  press(...keys: string[]): Promise<void>;
  /** Type text into the focused input and wait until it shows. */
  type(text: string): Promise<void>;
  waitFor(text: string | RegExp, ms?: number): Promise<string>;
  waitForGone(text: string | RegExp, ms?: number): Promise<void>;
  /**
   * Press `key` the moment a frame matching `text` is written: before that render's effects
   * run, as a fast typist or a slow machine does. Resolves once the key was sent.
   */
  pressOnFrame(text: string | RegExp, key: string, ms?: number): Promise<void>;
  unmount(): void;
}

class FakeStdout extends EventEmitter {
  frames: string[] = [];
  constructor(
    readonly columns: number,
    readonly rows: number,
  ) {
    super();
  }
  write = (frame: string) => {
    this.frames.push(frame);
    this.emit("frame", frame);
    return true;
  };
  get last(): string {
    return this.frames.at(-1) ?? "";
  }
}

class FakeStdin extends EventEmitter {
  isTTY = true;
  private data: string | null = null;
  write(data: string) {
    this.data = data;
    this.emit("readable");
    this.emit("data", data);
  }
  read = () => {
    const d = this.data;
    this.data = null;
    return d;
  };
  setEncoding() {}
  setRawMode() {}
  resume() {}
  pause() {}
  ref() {}
  unref() {}
}

/** A tree rendered by ink-testing-library (100 columns), as a Screen. */
export function renderScreen(tree: ReactElement): Screen {
  const r = renderTesting(tree);
  // Its stdout emits each frame as FakeStdout's does (pressOnFrame listens for them).
  const write = r.stdout.write;
  r.stdout.write = (frame: string) => {
    write(frame);
    r.stdout.emit("frame", frame);
  };
  return screenOf(
    r.lastFrame,
    (k) => r.stdin.write(k),
    r.unmount,
    () => r.frames.length,
    r.stdout,
  );
}

/**
 * ink-testing-library's approach with a terminal size of our choosing (its own stdout is
 * always 100 columns and has no rows), so layouts can be checked at 80×24.
 */
export function renderSized(tree: ReactElement, columns = 100, rows = 24): Screen {
  const stdout = new FakeStdout(columns, rows);
  const stdin = new FakeStdin();
  const instance = inkRender(tree, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: new FakeStdout(columns, rows) as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  return screenOf(
    () => stdout.last,
    (s) => stdin.write(s),
    () => {
      instance.unmount();
      instance.cleanup();
    },
    () => stdout.frames.length,
    stdout,
  );
}

/**
 * Wait until React is idle: a frame is written at commit, before that render's effects run
 * (useInput subscribing a newly shown form, a dialog taking the app's keys), and those effects
 * may render again. Ink in debug mode writes a frame on every render, so a few turns of the
 * event loop without a new frame mean the effects have run. Bounded: a spinner never idles.
 */
async function settle(renders: () => number): Promise<void> {
  await new Promise((r) => setTimeout(r, 15));
  const deadline = Date.now() + 2_000;
  let seen = renders();
  let quiet = 0;
  while (quiet < 5 && Date.now() < deadline) {
    await new Promise((r) => setImmediate(r));
    const now = renders();
    if (now === seen) quiet++;
    else {
      seen = now;
      quiet = 0;
    }
  }
}

export function screenOf(
  lastFrame: () => string | undefined,
  write: (s: string) => void,
  unmount: () => void,
  /** How many frames were written so far (one per render in debug mode). */
  renders: () => number,
  /** Emits "frame" with each frame as Ink writes it. */
  frames: EventEmitter,
): Screen {
  const frame = () => plain(lastFrame());
  const matches = (text: string | RegExp) => (f: string) =>
    typeof text === "string" ? f.includes(text) : text.test(f);
  const screen: Screen = {
    frame,
    async press(...keys) {
      for (const k of keys) {
        const before = lastFrame();
        write(k);
        // Let Ink handle the key and render before the next one (state updates are async).
        await until(() => lastFrame() !== before, "a frame after a key", 300).catch(() => {});
        // Effects of that render (a newly focused input subscribing to keys) run after the
        // frame is written: let them run before the next key.
        await settle(renders);
      }
    },
    async type(text) {
      write(text);
      await screen.waitFor(text);
    },
    async waitFor(text, ms = 20_000) {
      const m = matches(text);
      await until(
        () => m(frame()),
        () => `${String(text)} in the frame:\n${frame()}`,
        ms,
      );
      // The frame is written before the render's effects (key subscriptions) have run.
      await settle(renders);
      return frame();
    },
    async waitForGone(text, ms = 20_000) {
      const m = matches(text);
      await until(
        () => !m(frame()),
        () => `${String(text)} to go from the frame:\n${frame()}`,
        ms,
      );
    },
    pressOnFrame(text, key, ms = 20_000) {
      const m = matches(text);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          frames.off("frame", onFrame);
          reject(new Error(`no frame showed ${String(text)} within ${ms} ms:\n${frame()}`));
        }, ms);
        // A microtask runs after Ink's synchronous write and before React's passive effects.
        const onFrame = (f: string) => {
          if (!m(plain(f))) return;
          frames.off("frame", onFrame);
          clearTimeout(timer);
          queueMicrotask(() => {
            write(key);
            resolve();
          });
        };
        frames.on("frame", onFrame);
      });
    },
    unmount,
  };
  return screen;
}
