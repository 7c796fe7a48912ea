import type { RegistryContext } from "../../context";
import { dropSession, type UploadRef, withSession } from "./sessions";

/** Cancel an upload (DELETE): its bytes go at once. */
export function cancelUpload(ctx: RegistryContext, ref: UploadRef): Promise<void> {
  return withSession(ctx, ref, (session) => dropSession(ctx, session));
}
