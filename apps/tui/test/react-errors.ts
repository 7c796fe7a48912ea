import { afterEach, beforeEach } from "vitest";

// React reports a render loop ("Maximum update depth exceeded") and other misuse through
// console.error and carries on: a screen can spin the CPU while every assertion passes.
// Any such report fails the test that caused it.
let reported: string[] = [];
const original = console.error;

beforeEach(() => {
  reported = [];
  console.error = (...args: unknown[]) => {
    const text = args.map(String).join(" ");
    if (/Maximum update depth|Warning: |Each child in a list/.test(text)) reported.push(text);
    original(...args);
  };
});

afterEach(() => {
  console.error = original;
  if (reported.length > 0) {
    throw new Error(
      `React reported ${reported.length} error(s); the first: ${reported[0]!.slice(0, 300)}`,
    );
  }
});
