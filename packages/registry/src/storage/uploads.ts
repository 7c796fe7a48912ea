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
