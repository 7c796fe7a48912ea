import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { type AsyncGzipOptions, gzip } from "fflate";
import { extract, type Header, pack } from "tar-stream";
import { BudgetExceededError, type BuildBudget } from "./budget";

/*
 * Tar archives in and out of a build: reading the build context, base layers and ADDed
 * archives (tar-stream), and writing layers that are the same bytes for the same entries.
 */

export interface TarHeader {
  /** The entry's path as stored in the archive. */
  name: string;
  type: "file" | "dir" | "symlink" | "hardlink" | "other";
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname: string;
}

/** Called for each entry; `read()` returns its content (only files have one). */
export type TarVisitor = (header: TarHeader, read: () => Promise<Buffer>) => Promise<void> | void;

export class TarFormatError extends Error {
  override readonly name = "TarFormatError";
}

export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** A tar (or gzip-compressed tar) in memory has the ustar magic where tar-stream reads it. */
export function looksLikeTar(bytes: Uint8Array): boolean {
  if (bytes.length < 512) return false;
  const magic = Buffer.from(bytes.subarray(257, 262)).toString("latin1");
  return magic === "ustar";
}

function typeOf(type: Header["type"]): TarHeader["type"] {
  switch (type) {
    case "file":
    case "contiguous-file":
      return "file";
    case "directory":
      return "dir";
    case "symlink":
      return "symlink";
    case "link":
      return "hardlink";
    default:
      return "other";
  }
}

/**
 * Walk a tar stream (gzip-compressed or not, detected from its first bytes), decompressing as
 * it goes (zlib's thread pool, not the event loop). Entries whose content is not read are
 * skipped. Every entry, and every byte of content read, is taken from `budget`; past it the
 * walk stops at once with `BudgetExceededError`, having held no more than the budget.
 */
export async function readTar(
  source: Readable | Uint8Array,
  visit: TarVisitor,
  opts: { budget?: BuildBudget; what?: string; lenientEnd?: boolean } = {},
): Promise<void> {
  const input = source instanceof Uint8Array ? Readable.from([Buffer.from(source)]) : source;
  const sniffed = await sniff(input);
  const stages: NodeJS.ReadWriteStream[] = sniffed.gzip ? [createGunzip()] : [];
  const ex = extract();
  const { budget } = opts;
  const what = opts.what ?? "the archive";
  const consume = (async () => {
    for await (const entry of ex) {
      const h = entry.header;
      budget?.takeEntry(what);
      const header: TarHeader = {
        name: h.name,
        type: typeOf(h.type),
        mode: (h.mode ?? 0) & 0o7777,
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        size: h.size ?? 0,
        linkname: h.linkname ?? "",
      };
      let consumed = false;
      const read = async (): Promise<Buffer> => {
        consumed = true;
        const chunks: Buffer[] = [];
        for await (const data of entry) {
          const chunk = data as Buffer;
          budget?.takeBytes(chunk.length, what);
          chunks.push(chunk);
        }
        return Buffer.concat(chunks);
      };
      await visit(header, read);
      if (!consumed) entry.resume();
    }
  })();
  const feed = pipeline(sniffed.stream, ...(stages as []), ex);
  try {
    await Promise.all([consume, feed]);
  } catch (error) {
    ex.destroy();
    input.destroy();
    if (error instanceof TarFormatError || error instanceof BudgetExceededError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    // Some tools (umoci among them) end layers without the last entry's padding and the
    // end-of-archive blocks; every entry was read by then, as Docker's readers accept.
    if (opts.lenientEnd && /Unexpected end of data/.test(message)) return;
    throw new TarFormatError(
      /incorrect header check|unexpected end|Invalid tar header|Unexpected end of data|Z_/i.test(
        message,
      )
        ? `it is not a valid ${sniffed.gzip ? "gzip-compressed " : ""}tar archive (${message})`
        : message,
    );
  }
}

/** Peek at the first bytes of a stream without losing them. */
async function sniff(input: Readable): Promise<{ gzip: boolean; stream: Readable }> {
  const iterator = input[Symbol.asyncIterator]();
  const first = await iterator.next();
  const head: Buffer = first.done ? Buffer.alloc(0) : Buffer.from(first.value as Uint8Array);
  const rest = async function* () {
    if (head.length > 0) yield head;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield Buffer.from(next.value as Uint8Array);
    }
  };
  return { gzip: isGzip(head), stream: Readable.from(rest()) };
}

/** One entry of a layer being written. Paths are inside the image, without the leading `/`. */
export interface LayerEntry {
  path: string;
  type: "file" | "dir" | "symlink";
  mode: number;
  uid: number;
  gid: number;
  content?: Buffer;
  linkname?: string;
}

export interface BuiltLayer {
  /** The gzip-compressed tar. */
  gz: Buffer;
  /** sha256 of the uncompressed tar (the config's diff_id). */
  diffId: string;
  /** sha256 of `gz` (the manifest's layer digest). */
  digest: string;
  entries: number;
}

/**
 * A layer from entries: sorted by path, every timestamp `mtime` (seconds), no user or group
 * names, and compressed with a pure-JavaScript deflate so that the bytes do not depend on the
 * zlib that Node was built with. Same entries, same digest. The deflate runs in a worker
 * thread (fflate's async gzip), so a large layer does not stall the server's event loop.
 */
export async function writeLayer(entries: LayerEntry[], mtime: number): Promise<BuiltLayer> {
  const sorted = [...entries].sort((a, b) => compareBytes(a.path, b.path));
  const p = pack();
  const packed = buffer(p);
  const date = new Date(mtime * 1000);
  for (const e of sorted) {
    const header: Partial<Header> & Pick<Header, "name"> = {
      name: e.type === "dir" ? `${e.path}/` : e.path,
      mode: e.mode & 0o7777,
      uid: e.uid,
      gid: e.gid,
      uname: "",
      gname: "",
      mtime: date,
      type: e.type === "dir" ? "directory" : e.type,
      size: e.type === "file" ? (e.content?.length ?? 0) : 0,
      ...(e.type === "symlink" ? { linkname: e.linkname ?? "" } : {}),
    };
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.type === "file") p.entry(header, e.content ?? Buffer.alloc(0), done);
      else p.entry(header, done);
    });
  }
  p.finalize();
  const tar = await packed;
  const gz = await gzipOffThread(tar, { level: 6, mtime: 0 });
  return {
    gz,
    diffId: await sha256Yielding(tar),
    digest: await sha256Yielding(gz),
    entries: sorted.length,
  };
}

function gzipOffThread(data: Uint8Array, opts: AsyncGzipOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gzip(data, opts, (error, out) => (error ? reject(error) : resolve(Buffer.from(out))));
  });
}

const HASH_SLICE = 4 * 1024 * 1024;

/** sha256 of a large buffer, a slice at a time, letting other requests run in between. */
async function sha256Yielding(bytes: Uint8Array): Promise<string> {
  const hash = createHash("sha256");
  for (let at = 0; at < bytes.length; at += HASH_SLICE) {
    if (at > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    hash.update(bytes.subarray(at, at + HASH_SLICE));
  }
  return `sha256:${hash.digest("hex")}`;
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Byte-wise order of UTF-8 strings (not UTF-16 code unit order, nor locale order). */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
