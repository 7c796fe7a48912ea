import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** A build context folder: files by path (a trailing `*` on the name: executable). */
export function contextDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "berth-ctx-"));
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name.replace(/\*$/, ""));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    if (name.endsWith("*")) chmodSync(path, 0o755);
  }
  return dir;
}
