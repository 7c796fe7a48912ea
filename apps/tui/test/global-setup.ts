import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setupTestServer } from "@berth/db/testing";

// One Postgres for the test files, and the `berth` bundle they run, built once here so the
// end-to-end tests exercise the real binary.
export default async function setup() {
  const here = fileURLToPath(new URL("..", import.meta.url));
  execFileSync(fileURLToPath(new URL("../node_modules/.bin/tsx", import.meta.url)), ["build.ts"], {
    cwd: here,
    stdio: "inherit",
  });
  return setupTestServer();
}
