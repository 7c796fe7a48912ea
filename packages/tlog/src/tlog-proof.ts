import { HASH_SIZE, type Hash } from "./hash";

// C2SP tlog-proof (https://c2sp.org/tlog-proof): a single entry's offline-verifiable proof.
const HEADER = "c2sp.org/tlog-proof@v1";

export interface TlogProof {
  index: number;
  proof: Hash[];
  checkpoint: string;
  extra?: Buffer;
}

export function formatTlogProof(p: TlogProof): string {
  const lines = [HEADER];
  if (p.extra) lines.push(`extra ${p.extra.toString("base64")}`);
  lines.push(`index ${p.index}`, ...p.proof.map((h) => h.toString("base64")));
  return `${lines.join("\n")}\n\n${p.checkpoint}`;
}

export function parseTlogProof(text: string): TlogProof | null {
  const split = text.indexOf("\n\n");
  if (split < 0) return null;
  const lines = text.slice(0, split).split("\n");
  if (lines.shift() !== HEADER) return null;
  let extra: Buffer | undefined;
  if (lines[0]?.startsWith("extra "))
    extra = Buffer.from((lines.shift() as string).slice(6), "base64");
  const indexLine = lines.shift();
  if (!indexLine || !/^index (0|[1-9][0-9]*)$/.test(indexLine)) return null;
  const index = Number(indexLine.slice(6));
  const proof: Hash[] = [];
  for (const line of lines) {
    const hash = Buffer.from(line, "base64");
    if (hash.length !== HASH_SIZE || hash.toString("base64") !== line) return null;
    proof.push(hash);
  }
  if (!Number.isSafeInteger(index)) return null;
  return { index, proof, checkpoint: text.slice(split + 2), ...(extra ? { extra } : {}) };
}
