import { rmSync } from "node:fs";

/**
 * The end of a `bench:*` script: runs `main`, prints only the message of what it threw, then
 * runs every cleanup in order (each failure ignored, so one stuck process does not leave the
 * others running), removes the script's temporary folder last, and exits 1 if `main` failed.
 */
export function runScript(
  main: () => Promise<void>,
  cleanups: (() => Promise<void> | void)[],
  tmp: string,
): void {
  main()
    .then(
      () => 0,
      (error: unknown) => {
        console.error(error instanceof Error ? error.message : error);
        return 1;
      },
    )
    .then(async (code) => {
      for (const c of cleanups) await Promise.resolve(c()).catch(() => {});
      rmSync(tmp, { recursive: true, force: true });
      process.exit(code);
    });
}
