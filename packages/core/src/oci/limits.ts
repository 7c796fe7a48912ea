/** Largest blob a push may upload unless configured otherwise (BERTH_MAX_BLOB_BYTES). */
export const DEFAULT_MAX_BLOB_BYTES = 10 * 1024 ** 3;
