import { z } from "zod";

export const NAMESPACE_MIN_LENGTH = 4;
export const NAMESPACE_MAX_LENGTH = 30;
export const MAX_NAMESPACES_PER_REGION = 100;

export type NameCheck = { ok: true } | { ok: false; message: string };

const ALLOWED = /^[a-z0-9_-]$/;
const ALPHANUMERIC = /^[a-z0-9]$/;
// A namespace is the first component of every repository in it, so it must
// also satisfy the OCI component grammar, which joins letters and digits
// with "_", "__" or runs of "-" only. Without this, "ab_-cd" would be a
// namespace nobody could push to.
const SEPARATOR_RUN = /[_-]{2,}/g;
const OCI_SEPARATOR = /^(?:__|-+)$/;

export function validateNamespaceName(name: string): NameCheck {
  if (typeof name !== "string") return fail("namespace name must be a string");
  const chars = [...name];
  if (chars.length < NAMESPACE_MIN_LENGTH) {
    return fail(
      `namespace name "${name}" is too short: ${chars.length} characters, at least ${NAMESPACE_MIN_LENGTH} required`,
    );
  }
  if (chars.length > NAMESPACE_MAX_LENGTH) {
    return fail(
      `namespace name "${name}" is too long: ${chars.length} characters, at most ${NAMESPACE_MAX_LENGTH} allowed`,
    );
  }
  const bad = chars.findIndex((c) => !ALLOWED.test(c));
  if (bad >= 0) {
    const c = chars[bad]!;
    const hint = /^[A-Z]$/.test(c) ? " (use lowercase)" : "";
    return fail(
      `namespace name "${name}" has a bad character ${JSON.stringify(c)} at position ${bad + 1}${hint}: only lowercase letters, digits, "-" and "_" are allowed`,
    );
  }
  if (!ALPHANUMERIC.test(chars[0]!)) {
    return fail(`namespace name "${name}" must start with a letter or digit`);
  }
  if (!ALPHANUMERIC.test(chars[chars.length - 1]!)) {
    return fail(`namespace name "${name}" must end with a letter or digit`);
  }
  for (const run of name.match(SEPARATOR_RUN) ?? []) {
    if (!OCI_SEPARATOR.test(run)) {
      return fail(
        `namespace name "${name}" has the separator "${run}", which image references cannot use: separate letters and digits with "_", "__" or dashes`,
      );
    }
  }
  return { ok: true };
}

export const namespaceNameSchema = z.string().superRefine((name, ctx) => {
  const check = validateNamespaceName(name);
  if (!check.ok) ctx.addIssue({ code: "custom", message: check.message });
});

function fail(message: string): NameCheck {
  return { ok: false, message };
}
