import { resolve } from "node:path";
import { type BerthClient, type BuildResult, errorMessage } from "../api";
import { parseBuildArgs, splitBuildArgs } from "../build/args";
import { BuildInputError, locateBuild, quoteLine } from "../build/context";
import { BuildCancelled, type BuildConnection, runBuild } from "../build/run";

/*
 * The build screen's state, kept by the app rather than the screen: a build goes on while
 * the user looks at other screens, and its progress is there when they come back.
 */

/** What the form asks, as typed. */
export interface BuildForm {
  /** The context directory, relative to the current directory; empty: the current one. */
  context: string;
  /** The Dockerfile, relative to the context; empty: its `Dockerfile`. */
  dockerfile: string;
  tag: string;
  /** `NAME=value` pairs separated by spaces. */
  buildArgs: string;
}

export interface BuildStepView {
  step: number;
  steps: number;
  line: number;
  instruction: string;
  info: string[];
}

export type BuildPhase =
  | "idle"
  | "sending"
  | "building"
  | "done"
  | "failed"
  | "cancelled"
  | "error";

export interface BuildView {
  phase: BuildPhase;
  form: BuildForm;
  target?: string;
  dockerfile?: string;
  /** The context as sent (files and bytes before compression). */
  sent?: { files: number; bytes: number };
  total?: number;
  steps: BuildStepView[];
  /** Info lines that belong to no step (a warning about unused build args). */
  notes: string[];
  result?: BuildResult;
  failure?: { code: string; message: string; line?: number; quoted?: string };
  /** Why the build could not run at all (bad input, upload refused, server unreachable). */
  error?: string;
}

export const RUNNING: readonly BuildPhase[] = ["sending", "building"];

// Empty fields take the defaults: the current directory, its Dockerfile.
const EMPTY_FORM: BuildForm = { context: "", dockerfile: "", tag: "", buildArgs: "" };

export class BuildSession {
  private view: BuildView = { phase: "idle", form: EMPTY_FORM, steps: [], notes: [] };
  private listeners = new Set<() => void>();
  private controller: AbortController | undefined;

  constructor(
    private readonly client: BerthClient,
    private readonly connection: BuildConnection,
  ) {}

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  get = (): BuildView => this.view;

  get running(): boolean {
    return RUNNING.includes(this.view.phase);
  }

  private set(change: Partial<BuildView>): void {
    this.view = { ...this.view, ...change };
    for (const l of this.listeners) l();
  }

  /** Start a build of `form`; a build already running is cancelled first. */
  start(form: BuildForm): void {
    this.cancel();
    const controller = new AbortController();
    this.controller = controller;
    const current = () => this.controller === controller;
    this.view = { phase: "sending", form, steps: [], notes: [] };
    this.set({});
    void this.run(form, controller.signal, current);
  }

  /** Stop the running build: unsubscribing makes the server cancel it. */
  cancel(): void {
    if (!this.controller) return;
    this.controller.abort();
    this.controller = undefined;
    this.set({ phase: "cancelled" });
  }

  private async run(form: BuildForm, signal: AbortSignal, current: () => boolean) {
    let dockerfileText = "";
    try {
      const tag = form.tag.trim();
      if (tag === "") throw new BuildInputError("name the image to build: ns/repo:tag");
      const buildArgs = parseBuildArgs(splitBuildArgs(form.buildArgs), {});
      const context = form.context.trim() || ".";
      const local = await locateBuild(
        context,
        form.dockerfile.trim() || undefined,
        resolve(context),
      );
      dockerfileText = local.dockerfileText;
      if (!current()) return;
      this.set({ target: tag, dockerfile: local.dockerfile });
      const outcome = await runBuild(
        this.client,
        this.connection,
        { ...local, target: tag, buildArgs },
        (e) => {
          if (!current()) return;
          const v = this.view;
          switch (e.kind) {
            case "packed":
              this.set({ sent: { files: e.files, bytes: e.bytes } });
              break;
            case "start":
              this.set({ phase: "building", total: e.steps, target: e.target });
              break;
            case "queued":
              this.set({ notes: [...v.notes, e.message] });
              break;
            case "step":
              this.set({
                steps: [
                  ...v.steps,
                  {
                    step: e.step,
                    steps: e.steps,
                    line: e.line,
                    instruction: e.instruction,
                    info: [],
                  },
                ],
              });
              break;
            case "info": {
              const at = v.steps.findIndex((s) => s.step === e.step);
              if (e.step === undefined || at < 0) this.set({ notes: [...v.notes, e.message] });
              else {
                const steps = [...v.steps];
                steps[at] = { ...steps[at]!, info: [...steps[at]!.info, e.message] };
                this.set({ steps });
              }
              break;
            }
            default:
              break;
          }
        },
        signal,
      );
      if (!current()) return;
      this.controller = undefined;
      if (outcome.kind === "done") this.set({ phase: "done", result: outcome.result });
      else {
        const { code, message, line } = outcome.error;
        const quoted = quoteLine(dockerfileText, line);
        this.set({
          phase: "failed",
          failure: {
            code,
            message,
            ...(line !== undefined ? { line } : {}),
            ...(quoted !== undefined ? { quoted } : {}),
          },
        });
      }
    } catch (error) {
      // Cancelled (cancel() said so) or replaced by a newer build: nothing more to show.
      if (error instanceof BuildCancelled || !current()) return;
      this.controller = undefined;
      this.set({ phase: "error", error: errorMessage(error, this.connection.url) });
    }
  }
}
