/** Formatting shared by the tables of command mode and the screens of the app. */

const UNITS = ["B", "KB", "MB", "GB", "TB"];

/** Binary units, as the registry's quotas are given in MB of 2^20 bytes. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "-";
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

export function formatMb(mb: number | null | undefined): string {
  return mb === null || mb === undefined ? "unlimited" : `${mb} MB`;
}

/** `2019-06-01 12:00` in UTC: the same on every machine, sortable. */
export function formatTime(value: string | number | Date | null | undefined): string {
  if (value === null || value === undefined || value === "") return "-";
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toISOString().slice(0, 16).replace("T", " ");
}

/** Event times keep their seconds. */
export function formatSeconds(value: string | number | Date | null | undefined): string {
  if (value === null || value === undefined || value === "") return "-";
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toISOString().slice(0, 19).replace("T", " ");
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = s / 60;
  if (m < 60) return `${m.toFixed(m < 10 ? 1 : 0)} min`;
  return `${(m / 60).toFixed(1)} h`;
}

/** `sha256:0123456789ab`: enough to tell images apart in a table. */
export function shortDigest(digest: string): string {
  const [algo, hex] = digest.split(":");
  return hex ? `${algo}:${hex.slice(0, 12)}` : digest;
}

/** The action without the service prefix, as the router names it. */
export function shortAction(action: string): string {
  return action.replace(/^container-registry\./, "");
}

/** `namespace.create` → `container-registry.namespace.create`; full names pass through. */
export function fullAction(action: string): string {
  return action.includes(".") && !action.startsWith("container-registry.")
    ? `container-registry.${action}`
    : action;
}

export function percent(used: number, limit: number | null): number | null {
  if (limit === null || limit <= 0) return null;
  return Math.min(100, Math.round((used / limit) * 100));
}

/** Cut to `width` characters with an ellipsis. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return "";
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}
