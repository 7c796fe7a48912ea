export class UploadNotFoundError extends Error {
  override readonly name = "UploadNotFoundError";
  constructor(readonly id: string) {
    super(`upload ${id} is unknown`);
  }
}

export class UploadOffsetError extends Error {
  override readonly name = "UploadOffsetError";
  constructor(
    readonly expected: number,
    readonly given: number,
  ) {
    super(`chunk starts at byte ${given}, but the upload holds ${expected} bytes`);
  }
}

/** In-process exclusive holds on upload ids. */
export class UploadLocks {
  private readonly held = new Set<string>();
  acquire(id: string): (() => void) | null {
    if (this.held.has(id)) return null;
    this.held.add(id);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held.delete(id);
    };
  }
}
