import fc from "fast-check";

const lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789".split("");
const hex = "0123456789abcdef".split("");

const alnumRun = (max: number) =>
  fc.string({ unit: fc.constantFrom(...lowerAlnum), minLength: 1, maxLength: max });

/** Namespace names valid under DESIGN §4 and the OCI component grammar. */
export const validNamespace = fc
  .tuple(
    alnumRun(8),
    fc.array(fc.tuple(fc.constantFrom("_", "__", "-", "--", "---"), alnumRun(8)), { maxLength: 5 }),
  )
  .map(([head, rest]) => head + rest.map(([sep, run]) => sep + run).join(""))
  .filter((name) => name.length >= 4 && name.length <= 30);

/** One OCI repository path component. */
export const pathComponent = fc
  .tuple(
    alnumRun(6),
    fc.array(fc.tuple(fc.constantFrom(".", "_", "__", "-", "--"), alnumRun(6)), { maxLength: 3 }),
  )
  .map(([head, rest]) => head + rest.map(([sep, run]) => sep + run).join(""));

export const validRepository = fc
  .tuple(validNamespace, fc.array(pathComponent, { minLength: 1, maxLength: 3 }))
  .map(([ns, path]) => `${ns}/${path.join("/")}`);

export const validTag = fc
  .tuple(
    fc.constantFrom(..."aZ09_".split("")),
    fc.string({ unit: fc.constantFrom(..."abcXYZ019._-".split("")), maxLength: 20 }),
  )
  .map(([first, rest]) => first + rest);

export const validDigest = fc.oneof(
  fc
    .string({ unit: fc.constantFrom(...hex), minLength: 64, maxLength: 64 })
    .map((h) => `sha256:${h}`),
  fc
    .string({ unit: fc.constantFrom(...hex), minLength: 128, maxLength: 128 })
    .map((h) => `sha512:${h}`),
);
