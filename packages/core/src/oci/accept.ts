/**
 * The media ranges an `Accept` header allows (RFC 9110 §12.5.1), lowercased, without
 * parameters; ranges with q=0 are refused ones and left out. Undefined when the header is
 * absent or allows anything (`*∕*`): then any manifest type is served.
 */
export function acceptedMediaRanges(header: string | undefined): string[] | undefined {
  if (header === undefined || header.trim() === "") return undefined;
  const ranges: string[] = [];
  for (const part of header.split(",")) {
    const [range, ...params] = part.split(";").map((s) => s.trim());
    if (!range) continue;
    const q = params.find((p) => /^q\s*=/i.test(p));
    if (q !== undefined && Number(q.split("=")[1]) === 0) continue;
    const type = range.toLowerCase();
    if (type === "*/*") return undefined;
    ranges.push(type);
  }
  return ranges;
}

/** Whether a media type is within the accepted ranges (`type/subtype` or `type/*`). */
export function mediaTypeAccepted(
  mediaType: string,
  ranges: readonly string[] | undefined,
): boolean {
  if (ranges === undefined) return true;
  const type = mediaType.toLowerCase();
  const major = type.split("/")[0];
  return ranges.some((r) => r === type || r === `${major}/*`);
}
