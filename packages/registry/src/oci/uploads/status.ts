import type { RegistryContext } from "../../context";
import { UploadNotFoundError } from "../../storage/uploads";
import { ociFailureOf } from "../errors";
import { requireSession, type UploadRef } from "./sessions";

/** Bytes received so far by an upload. */
export async function uploadStatus(
  ctx: RegistryContext,
  ref: UploadRef,
): Promise<{ offset: number }> {
  try {
    const session = await requireSession(ctx, ref);
    const size = await ctx.store.uploads().size(ref.id, session.state);
    if (size === null) throw new UploadNotFoundError(ref.id);
    return { offset: size };
  } catch (error) {
    throw ociFailureOf(error);
  }
}
