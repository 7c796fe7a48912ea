/**
 * A minimal ustar writer: regular files and directories, enough for real image layers
 * (tests, seeding, the build action). Output is deterministic for the same entries.
 */
export interface TarEntry {
  path: string;
  /** File content; omit for a directory. */
  content?: Uint8Array | string;
  mode?: number;
  mtime?: number;
}

const BLOCK = 512;

export function tar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const isDir = entry.content === undefined;
    const body = isDir ? Buffer.alloc(0) : Buffer.from(entry.content!);
    parts.push(header(entry, body.length, isDir));
    if (body.length > 0) {
      parts.push(body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function header(entry: TarEntry, size: number, isDir: boolean): Buffer {
  const h = Buffer.alloc(BLOCK);
  let path = entry.path.replace(/^\/+/, "");
  if (isDir && !path.endsWith("/")) path += "/";
  let prefix = "";
  if (Buffer.byteLength(path) > 100) {
    const cut = path.lastIndexOf("/", path.length - 2);
    prefix = path.slice(0, cut);
    path = path.slice(cut + 1);
    if (Buffer.byteLength(path) > 100 || Buffer.byteLength(prefix) > 155) {
      throw new Error(`tar path too long: ${entry.path}`);
    }
  }
  h.write(path, 0, 100, "utf8");
  octal(h, 100, 8, entry.mode ?? (isDir ? 0o755 : 0o644));
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, entry.mtime ?? 0);
  h.fill(0x20, 148, 156);
  h.write(isDir ? "5" : "0", 156, 1, "ascii");
  h.write("ustar\u000000", 257, 8, "ascii");
  h.write("root", 265, 32, "ascii");
  h.write("root", 297, 32, "ascii");
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, 8, "ascii");
  return h;
}

function octal(buf: Buffer, offset: number, length: number, value: number): void {
  buf.write(`${value.toString(8).padStart(length - 1, "0")}\u0000`, offset, length, "ascii");
}
