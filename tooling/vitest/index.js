import { defineConfig } from "vitest/config";

// Tests talk to real Postgres and real servers, so they get generous timeouts
// rather than assertions on speed (benchmarks measure speed).
export const baseConfig = defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts", "test/**/*.test.tsx"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
