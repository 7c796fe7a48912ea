/** The tracker's timestamp format: UTC, hundredths of a second, numeric "+0000" offset. */
export const EVENT_TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{2}\+0000$/;

export function formatEventTime(date: Date): string {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw new RangeError("cannot format an invalid Date as an event time");
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) {
    throw new RangeError(`event time year must have four digits, got ${year}`);
  }
  // Truncate rather than round so an event never appears to happen after its
  // own clock reading (rounding 59.995 up would also roll the minute).
  const hundredths = Math.floor(date.getUTCMilliseconds() / 10);
  return (
    `${pad(year, 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}` +
    `T${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}` +
    `.${pad(hundredths, 2)}+0000`
  );
}

export function parseEventTime(text: string): Date {
  if (!EVENT_TIME_PATTERN.test(text)) {
    throw new RangeError(`event time must look like 2019-06-01T12:34:56.78+0000, got "${text}"`);
  }
  const date = new Date(`${text.slice(0, 22)}0Z`);
  // Date silently rolls 2019-02-30 over to March; formatting back catches it.
  // Year 0000 is a real instant to Date but not to Postgres, which stores the tracker's events.
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1 || formatEventTime(date) !== text) {
    throw new RangeError(`event time is not a real calendar instant: "${text}"`);
  }
  return date;
}

/** Whether a text of the pattern names a real instant (parseEventTime would take it). */
export function isRealEventTime(text: string): boolean {
  try {
    parseEventTime(text);
    return true;
  } catch {
    return false;
  }
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, "0");
}
