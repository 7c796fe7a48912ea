import type { RegistryContext } from "../../context";
import type { BlobInfo } from "../../storage/blob-store";
import { recordRefusal } from "../audit";
import { ociDigest } from "../repository";
import type { Chunk } from "./append";
import { finishUpload } from "./finish";
import { dropSession } from "./sessions";
import { startUpload } from "./start";

/** A monolithic upload (POST ?digest= with the body): open, write, close in one request. */
export async function uploadWhole(
  ctx: RegistryContext,
  input: { repository: string; digest: string | undefined } & Chunk,
): Promise<BlobInfo> {
  try {
    ociDigest(input.digest);
  } catch (error) {
    throw await recordRefusal(ctx, "container-registry.image.push", input.repository, error);
  }
  const { id } = await startUpload(ctx, { repository: input.repository });
  try {
    return await finishUpload(ctx, { ...input, id });
  } catch (error) {
    await dropSession(ctx, { id }).catch(() => {});
    throw error;
  }
}
