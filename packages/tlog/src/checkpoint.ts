import { HASH_SIZE, type Hash } from "./hash";
import { openNote, type SigningKey, signNote, type VerifierKey } from "./note";

// C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): origin, decimal size, base64 root.
export interface Checkpoint {
  origin: string;
  size: number;
  root: Hash;
}

export function checkpointText(c: Checkpoint): string {
  return `${c.origin}\n${c.size}\n${c.root.toString("base64")}\n`;
}

export function signCheckpoint(c: Checkpoint, key: SigningKey): string {
  return signNote(checkpointText(c), key);
}

export function parseCheckpointText(text: string): Checkpoint | null {
  const lines = text.split("\n");
  if (lines.length < 4 || lines[lines.length - 1] !== "") return null;
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (!origin || !/^(0|[1-9][0-9]*)$/.test(sizeText)) return null;
  const size = Number(sizeText);
  const root = Buffer.from(rootText, "base64");
  if (
    !Number.isSafeInteger(size) ||
    root.length !== HASH_SIZE ||
    root.toString("base64") !== rootText
  )
    return null;
  return { origin, size, root };
}

/** Verifies a signed checkpoint with `key` and parses it; `origin`, when given, must match. */
export function openCheckpoint(
  note: string,
  key: VerifierKey,
  origin?: string,
): { ok: true; checkpoint: Checkpoint } | { ok: false; reason: string } {
  const opened = openNote(note, key);
  if (!opened.ok) return opened;
  const checkpoint = parseCheckpointText(opened.text);
  if (!checkpoint) return { ok: false, reason: "the note is not a checkpoint" };
  if (origin !== undefined && checkpoint.origin !== origin)
    return { ok: false, reason: `the checkpoint is for ${checkpoint.origin}, not ${origin}` };
  return { ok: true, checkpoint };
}
