/**
 * What a build reports while it runs, in order: `queued` when it waits for a free build slot,
 * `start`, then for each instruction a `step`
 * (with `info` lines and, for COPY and ADD, a `layer`), then `stored` once the image is in the
 * registry. The caller of `buildImage` gets the result or the error; the tRPC subscription
 * turns them into a final `done` or `failed` message.
 */
export type BuildProgress =
  | {
      kind: "queued";
      /** Builds waiting before this one. */
      ahead: number;
      /** Why it waits, for a person: "queued: ...". */
      message: string;
    }
  | {
      kind: "start";
      /** `ns/repo:tag` being built. */
      target: string;
      dockerfile: string;
      /** Instructions in the Dockerfile (ARGs before FROM included). */
      steps: number;
      context: { files: number; bytes: number };
    }
  | {
      kind: "step";
      /** 1-based. */
      step: number;
      steps: number;
      /** Line of the instruction in the Dockerfile. */
      line: number;
      /** The instruction as written. */
      instruction: string;
    }
  | { kind: "info"; step?: number; message: string }
  | {
      kind: "layer";
      step: number;
      digest: string;
      /** Compressed bytes. */
      size: number;
      /** Entries in the layer (files, directories, links). */
      entries: number;
    }
  | { kind: "stored"; digest: string; target: string };

export type ProgressListener = (event: BuildProgress) => void;
