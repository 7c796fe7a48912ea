const UUID_V7_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export function isUuidV7(value: unknown): value is string {
  return typeof value === "string" && UUID_V7_PATTERN.test(value);
}

/**
 * Lay out a UUIDv7 (RFC 9562) from a clock reading and at least 10 random
 * bytes. Both come from the caller so core stays deterministic; ids sort by
 * time, which keeps outbox and tracker indexes append-mostly.
 */
export function uuidV7(unixMs: number, random: Uint8Array): string {
  if (!Number.isSafeInteger(unixMs) || unixMs < 0 || unixMs >= 2 ** 48) {
    throw new RangeError(
      `UUIDv7 time must be a non-negative 48-bit millisecond count, got ${unixMs}`,
    );
  }
  if (random.length < 10) {
    throw new RangeError(`UUIDv7 needs 10 random bytes, got ${random.length}`);
  }
  const bytes = new Uint8Array(16);
  let t = unixMs;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = t % 256;
    t = Math.floor(t / 256);
  }
  bytes.set(random.subarray(0, 10), 6);
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The millisecond timestamp embedded in a UUIDv7. */
export function uuidV7Time(id: string): number {
  if (!isUuidV7(id)) throw new RangeError(`not a UUIDv7: "${id}"`);
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
