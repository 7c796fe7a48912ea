import type { BuildImageInput, BuildMessage } from "@berth/api";
import { type BerthClient, uploadBuildContext } from "@berth/client";
import type { CreatedAccount } from "@berth/registry";
import { type ContextSpec, contextTar } from "@berth/registry/testing";
import { USER_AGENT } from "./expect-events";
import { rid, type TestServer } from "./helpers";

/** Follow image.build through the typed client's subscription to its end; every message. */
export async function followBuild(
  client: BerthClient,
  input: BuildImageInput,
  requestId = rid("build"),
  onMessage: (m: BuildMessage) => void = () => {},
): Promise<BuildMessage[]> {
  const messages: BuildMessage[] = [];
  await new Promise<void>((resolve, reject) => {
    const sub = client.image.build.subscribe(input, {
      context: { requestId },
      onData: (m) => {
        messages.push(m);
        onMessage(m);
        if (m.kind === "done" || m.kind === "failed") {
          sub.unsubscribe();
          resolve();
        }
      },
      onError: reject,
      onComplete: () => resolve(),
    });
  });
  return messages;
}

/** Upload a context as `who`; its id. */
export async function upload(
  env: TestServer,
  who: CreatedAccount,
  files: ContextSpec | Buffer,
): Promise<string> {
  const tar = Buffer.isBuffer(files) ? files : await contextTar(files);
  const { context } = await uploadBuildContext(
    { url: env.url(), apiKey: who.apiKey, headers: { "user-agent": USER_AGENT } },
    tar,
  );
  return context;
}

/** The last message of a build: its outcome. */
export function outcome(messages: BuildMessage[]): BuildMessage {
  const last = messages.at(-1);
  if (!last) throw new Error("the build sent no message");
  return last;
}
