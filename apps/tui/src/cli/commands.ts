import { ISSUE_TYPES, isRegionName, REGION_NAMES } from "@berth/core";
import type { BerthClient, BulkResult, EventLine, TailMessage } from "../api";
import { connect, errorMessage } from "../api";
import { checkUrl, maskKey, type Target, writeConfig } from "../config";
import {
  formatBytes,
  formatDuration,
  formatMb,
  formatSeconds,
  formatTime,
  fullAction,
  shortAction,
  shortDigest,
} from "../format";
import { buildCommand } from "./build";
import { CommandFailed, EXIT_FAILED, UsageError } from "./errors";
import { type Column, renderPairs, renderTable } from "./table";

export interface Io {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  env: Record<string, string | undefined>;
  /** Ends a command that runs until stopped (`events --follow`). */
  signal?: AbortSignal;
}

export type OptionValue = string | boolean | string[] | undefined;

export interface CommandContext {
  /** Positional arguments after the verb. */
  args: string[];
  opts: Record<string, OptionValue>;
  json: boolean;
  io: Io;
  target: Target;
  /** The client of the target; a UsageError when no URL or API key is configured. */
  client(): BerthClient;
}

export interface CommandResult {
  /** What `--output json` prints. */
  data: unknown;
  /** What the table output prints. */
  text: string;
  exitCode?: number;
}

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  help: string;
}

export interface Command {
  name: string;
  args: string;
  summary: string;
  options?: Record<string, OptionSpec>;
  /** Positional arguments allowed. */
  min?: number;
  max?: number;
  run(ctx: CommandContext): Promise<CommandResult | undefined>;
}

const str = (ctx: CommandContext, name: string): string | undefined => {
  const v = ctx.opts[name];
  return typeof v === "string" ? v : undefined;
};
const flag = (ctx: CommandContext, name: string): boolean => ctx.opts[name] === true;
/** A list option: repeated and/or comma-separated. */
const list = (ctx: CommandContext, name: string): string[] | undefined => {
  const v = ctx.opts[name];
  const values = (Array.isArray(v) ? v : typeof v === "string" ? [v] : [])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "");
  return values.length > 0 ? values : undefined;
};

/** Ask on the terminal; where nobody can answer, demand --force instead. */
async function confirm(ctx: CommandContext, question: string): Promise<void> {
  if (flag(ctx, "force")) return;
  if (!ctx.io.stdin.isTTY) {
    throw new UsageError(`${question.replace(/\?$/, "")}: confirm with --force`);
  }
  ctx.io.stderr.write(`${question} [y/N] `);
  const answer = (await readLine(ctx.io.stdin)).trim().toLowerCase();
  if (answer !== "y" && answer !== "yes") throw new CommandFailed("cancelled", "CANCELLED");
}

export function readLine(stdin: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let buffer = "";
    const onData = (chunk: Buffer | string) => {
      buffer += chunk.toString();
      const nl = buffer.indexOf("\n");
      if (nl >= 0) {
        done();
        resolve(buffer.slice(0, nl).replace(/\r$/, ""));
      }
    };
    const onEnd = () => {
      done();
      resolve(buffer);
    };
    const done = () => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdin.pause();
    };
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    stdin.resume();
  });
}

/** A secret typed on a terminal, not echoed. */
function readSecret(io: Io, prompt: string): Promise<string> {
  const stdin = io.stdin;
  io.stderr.write(prompt);
  stdin.setRawMode?.(true);
  return new Promise((resolve, reject) => {
    let value = "";
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === "\r" || ch === "\n") return finish();
        if (ch === "\u0003") {
          cleanup();
          return reject(new CommandFailed("cancelled", "CANCELLED"));
        }
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    const cleanup = () => {
      stdin.off("data", onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write("\n");
    };
    const finish = () => {
      cleanup();
      resolve(value);
    };
    stdin.on("data", onData);
    stdin.resume();
  });
}

async function readAll(stdin: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of stdin) text += chunk.toString();
  return text;
}

function bulkOutput(verb: string, results: BulkResult[], data: unknown): CommandResult {
  const failed = results.filter((r) => !r.ok);
  const text = renderTable<BulkResult>(
    [
      { header: "TARGET", value: (r) => r.target },
      { header: "RESULT", value: (r) => (r.ok ? verb : "FAILED") },
      { header: "REASON", value: (r) => r.error?.message ?? "" },
    ],
    results,
  );
  return {
    data,
    text,
    ...(failed.length > 0 ? { exitCode: EXIT_FAILED } : {}),
  };
}

/** `--storage 1024`, or `unlimited` to clear the user quota. */
function quotaMb(value: string | undefined, name: string): number | null | undefined {
  if (value === undefined) return undefined;
  if (/^(unlimited|none)$/i.test(value)) return null;
  if (!/^\d+$/.test(value)) {
    throw new UsageError(`--${name} takes a whole number of MB, or "unlimited"`);
  }
  return Number(value);
}

const eventColumns: Column<EventLine>[] = [
  { header: "TIME", value: (l) => formatSeconds(l._ts) },
  { header: "ACTION", value: (l) => shortAction(l.event.action) },
  { header: "OUTCOME", value: (l) => l.event.outcome },
  { header: "SEVERITY", value: (l) => l.event.severity },
  { header: "TARGET", value: (l) => l.event.target.name },
  { header: "INITIATOR", value: (l) => l.event.initiator.name },
];

function eventFilters(ctx: CommandContext) {
  const region = str(ctx, "tracker-region");
  const query = str(ctx, "query");
  const initiator = str(ctx, "initiator");
  const target = str(ctx, "target");
  const action = list(ctx, "action")?.map(fullAction);
  const outcome = list(ctx, "outcome");
  const severity = list(ctx, "severity");
  return {
    ...(region ? { region } : {}),
    ...(query ? { query } : {}),
    ...(initiator ? { initiator } : {}),
    ...(target ? { target } : {}),
    ...(action ? { action } : {}),
    ...(outcome ? { outcome: outcome as ("success" | "failure" | "pending")[] } : {}),
    ...(severity ? { severity: severity as ("normal" | "warning" | "critical")[] } : {}),
  };
}

/** `events --follow`: lines as they arrive until interrupted; JSON output is one event a line. */
async function followEvents(ctx: CommandContext): Promise<CommandResult | undefined> {
  const client = ctx.client();
  const out = ctx.io.stdout;
  let headerShown = false;
  const widths = [19, 28, 8, 9, 30];
  const row = (cells: string[]) =>
    cells
      .map((c, i) => (i < widths.length ? c.padEnd(widths[i]!) : c))
      .join("   ")
      .trimEnd();
  await new Promise<void>((resolve, reject) => {
    const sub = client.events.tail.subscribe(eventFilters(ctx), {
      onData: (m: TailMessage) => {
        if (m.kind === "ready") {
          ctx.io.stderr.write(`following events of region ${m.region} (Ctrl-C to stop)\n`);
          if (!ctx.json && !headerShown) {
            out.write(`${row(eventColumns.map((c) => c.header))}\n`);
            headerShown = true;
          }
          return;
        }
        if (ctx.json) out.write(`${JSON.stringify(m.line)}\n`);
        else out.write(`${row(eventColumns.map((c) => String(c.value(m.line) ?? "-")))}\n`);
      },
      onError: (error) => {
        sub.unsubscribe();
        reject(error);
      },
      onComplete: () => resolve(),
    });
    const stop = () => {
      sub.unsubscribe();
      resolve();
    };
    if (ctx.io.signal?.aborted) stop();
    ctx.io.signal?.addEventListener("abort", stop, { once: true });
  });
  return undefined;
}

export const COMMANDS: Command[] = [
  {
    name: "login",
    args: "",
    summary: "store the server URL and API key",
    options: {},
    max: 0,
    async run(ctx) {
      const url = ctx.target.url;
      if (!url) throw new UsageError("login needs the server URL: --url http://host:port");
      const base = checkUrl(url);
      let apiKey = ctx.target.apiKey;
      if (!apiKey) {
        apiKey = ctx.io.stdin.isTTY
          ? await readSecret(ctx.io, "API key: ")
          : (await readAll(ctx.io.stdin)).trim();
      }
      if (!apiKey) throw new UsageError("no API key given (--api-key, BERTH_API_KEY or stdin)");
      const client = connect(base, apiKey);
      const region = await client.region.query();
      const who = await client.whoami.query();
      const config = ctx.target.config;
      config.regions[region.region] = base;
      config.region = region.region;
      config.apiKey = apiKey;
      writeConfig(ctx.target.configPath, config);
      return {
        data: {
          region: region.region,
          url: base,
          account: who.account,
          user: who.user,
          apiKey: maskKey(apiKey),
          config: ctx.target.configPath,
        },
        text: [
          `Logged in to region ${region.region} at ${base}`,
          `as ${who.user.name}, account ${who.account.name} (${who.account.id}).`,
          `API key ${maskKey(apiKey)} saved in ${ctx.target.configPath}.`,
        ].join("\n"),
      };
    },
  },
  {
    name: "logout",
    args: "",
    summary: "forget the stored API key",
    max: 0,
    async run(ctx) {
      const config = ctx.target.config;
      const had = config.apiKey !== undefined;
      delete config.apiKey;
      writeConfig(ctx.target.configPath, config);
      return {
        data: { removed: had, config: ctx.target.configPath },
        text: had ? "API key removed." : "No API key was stored.",
      };
    },
  },
  {
    name: "region-set",
    args: "REGION",
    summary: "target REGION (--url remembers its endpoint)",
    options: { url: { type: "string", help: "URL of the Berth endpoint of that region" } },
    min: 1,
    max: 1,
    async run(ctx) {
      const region = ctx.args[0]!;
      if (!isRegionName(region)) {
        throw new UsageError(`"${region}" is not a region (known: ${REGION_NAMES.join(", ")})`);
      }
      const config = ctx.target.config;
      const given = str(ctx, "url");
      const url = given ? checkUrl(given) : config.regions[region];
      if (!url) {
        throw new UsageError(
          `no endpoint is known for region ${region}: give it with --url http://host:port`,
        );
      }
      if (given) {
        const served = await connect(url, undefined).region.query();
        if (served.region !== region) {
          throw new CommandFailed(`${url} serves region ${served.region}, not ${region}`, "REGION");
        }
      }
      config.regions[region] = url;
      config.region = region;
      writeConfig(ctx.target.configPath, config);
      return { data: { region, url }, text: `Now targeting region ${region} at ${url}.` };
    },
  },
  {
    name: "region",
    args: "",
    summary: "show the targeted region and known endpoints",
    max: 0,
    async run(ctx) {
      const { config } = ctx.target;
      const current = ctx.target.region;
      const rows = Object.entries(config.regions).map(([region, url]) => ({
        region,
        url,
        current: region === current,
      }));
      return {
        data: { region: current ?? null, url: ctx.target.url ?? null, regions: config.regions },
        text:
          rows.length === 0
            ? "No region configured: berth login --url URL, or berth region-set REGION --url URL."
            : renderTable<(typeof rows)[number]>(
                [
                  { header: "REGION", value: (r) => r.region },
                  { header: "URL", value: (r) => r.url },
                  { header: "CURRENT", value: (r) => (r.current ? "*" : "") },
                ],
                rows,
              ),
      };
    },
  },
  {
    name: "whoami",
    args: "",
    summary: "show who the API key acts as, and where",
    max: 0,
    async run(ctx) {
      const who = await ctx.client().whoami.query();
      return {
        data: { ...who, url: ctx.target.url, apiKey: maskKey(ctx.target.apiKey) },
        text: renderPairs([
          ["Account", `${who.account.name} (${who.account.id})`],
          ["User", `${who.user.name} (${who.user.id})`],
          ["Region", who.region],
          ["Server", ctx.target.url],
          ["API key", maskKey(ctx.target.apiKey)],
        ]),
      };
    },
  },
  {
    name: "namespace-add",
    args: "NAME",
    summary: "add a namespace in the targeted region",
    min: 1,
    max: 1,
    async run(ctx) {
      const ns = await ctx.client().namespace.create.mutate({ name: ctx.args[0]! });
      return { data: ns, text: `Namespace ${ns.name} added in region ${ns.region}.` };
    },
  },
  {
    name: "namespace-list",
    args: "",
    summary: "list the namespaces of the region",
    max: 0,
    async run(ctx) {
      const rows = await ctx.client().namespace.list.query();
      return {
        data: rows,
        text: renderTable<(typeof rows)[number]>(
          [
            { header: "NAMESPACE", value: (r) => r.name },
            { header: "REPOSITORIES", value: (r) => r.repositories, align: "right" },
            { header: "IMAGES", value: (r) => r.images, align: "right" },
            { header: "CREATED", value: (r) => formatTime(r.createdAt) },
          ],
          rows,
        ),
      };
    },
  },
  {
    name: "namespace-rm",
    args: "NAME",
    summary: "delete a namespace and every image in it",
    options: { force: { type: "boolean", short: "f", help: "do not ask for confirmation" } },
    min: 1,
    max: 1,
    async run(ctx) {
      const name = ctx.args[0]!;
      const client = ctx.client();
      await confirm(ctx, `Delete namespace ${name} and every image in it?`);
      const r = await client.namespace.delete.mutate({ name });
      return {
        data: r,
        text: `Namespace ${r.name} removed (${r.repositories} repositories, ${r.images} images, ${formatBytes(r.releasedBytes)} released).`,
      };
    },
  },
  {
    name: "image-list",
    args: "",
    summary: "list tagged images",
    options: {
      namespace: { type: "string", help: "only this namespace" },
      repository: { type: "string", help: "only this repository (ns/repo)" },
      quiet: { type: "boolean", short: "q", help: "image names only" },
    },
    max: 0,
    async run(ctx) {
      const namespace = str(ctx, "namespace");
      const repository = str(ctx, "repository");
      const rows = await ctx.client().image.list.query({
        ...(namespace ? { namespace } : {}),
        ...(repository ? { repository } : {}),
      });
      if (flag(ctx, "quiet"))
        return { data: rows.map((r) => r.image), text: rows.map((r) => r.image).join("\n") };
      return {
        data: rows,
        text: renderTable<(typeof rows)[number]>(
          [
            { header: "REPOSITORY", value: (r) => r.repository },
            { header: "TAG", value: (r) => r.tag },
            { header: "DIGEST", value: (r) => shortDigest(r.digest) },
            { header: "NAMESPACE", value: (r) => r.namespace },
            { header: "SIZE", value: (r) => formatBytes(r.size), align: "right" },
            { header: "PUSHED", value: (r) => formatTime(r.pushedAt) },
          ],
          rows,
        ),
      };
    },
  },
  {
    name: "image-inspect",
    args: "IMAGE...",
    summary: "show manifest, config and layers of images",
    min: 1,
    async run(ctx) {
      const client = ctx.client();
      const details = [];
      for (const image of ctx.args) details.push(await client.image.inspect.query({ image }));
      const text = details
        .map((d) => {
          const config = (d.config ?? {}) as {
            architecture?: string;
            os?: string;
            created?: string;
            config?: { Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string };
          };
          const head = renderPairs([
            ["Image", d.image],
            ["Digest", d.digest],
            ["Media type", d.mediaType],
            ["Tags", d.tags.join(", ")],
            ["Size", `${formatBytes(d.size)} (${d.size} bytes)`],
            ["Pushed", formatTime(d.pushedAt)],
            ["Platform", config.os ? `${config.os}/${config.architecture ?? "?"}` : undefined],
            ["Created", config.created],
            ["Entrypoint", config.config?.Entrypoint?.join(" ")],
            ["Cmd", config.config?.Cmd?.join(" ")],
          ]);
          const layers = renderTable<(typeof d.layers)[number]>(
            [
              { header: "LAYER", value: (l) => l.digest },
              { header: "SIZE", value: (l) => formatBytes(l.size), align: "right" },
            ],
            d.layers,
          );
          return `${head}\n\n${layers}`;
        })
        .join("\n\n");
      return { data: details, text };
    },
  },
  {
    name: "image-tag",
    args: "SOURCE TARGET",
    summary: "add tag TARGET (ns/repo:tag) to image SOURCE",
    min: 2,
    max: 2,
    async run(ctx) {
      const r = await ctx.client().image.tag.mutate({ source: ctx.args[0]!, target: ctx.args[1]! });
      return { data: r, text: `Tagged ${r.source} as ${r.target} (${shortDigest(r.digest)}).` };
    },
  },
  {
    name: "image-untag",
    args: "IMAGE...",
    summary: "remove tags, keeping the images",
    min: 1,
    async run(ctx) {
      const r = await ctx.client().image.untag.mutate({ images: ctx.args });
      return bulkOutput("UNTAGGED", r.results, r);
    },
  },
  {
    name: "image-rm",
    args: "IMAGE...",
    summary: "delete images with all their tags",
    min: 1,
    async run(ctx) {
      const r = await ctx.client().image.rm.mutate({ images: ctx.args });
      return bulkOutput("REMOVED", r.results, r);
    },
  },
  buildCommand,
  {
    name: "quota",
    args: "",
    summary: "show storage and pull-traffic quotas and usage",
    max: 0,
    async run(ctx) {
      const q = await ctx.client().quota.get.query();
      const rows = [
        {
          quota: "storage",
          limit: q.limits.storageBytes,
          used: q.usage.storageBytes,
          set: q.quotas.storageMb,
        },
        {
          quota: `pull traffic (${q.month})`,
          limit: q.limits.pullTrafficBytes,
          used: q.usage.pullTrafficBytes,
          set: q.quotas.trafficMb,
        },
      ];
      const table = renderTable<(typeof rows)[number]>(
        [
          { header: "QUOTA", value: (r) => r.quota },
          {
            header: "LIMIT",
            value: (r) => (r.limit === null ? "unlimited" : formatBytes(r.limit)),
          },
          { header: "USED", value: (r) => formatBytes(r.used) },
          { header: "YOUR QUOTA", value: (r) => formatMb(r.set) },
        ],
        rows,
      );
      return { data: q, text: `Region ${q.region}, plan ${q.plan}\n\n${table}` };
    },
  },
  {
    name: "quota-set",
    args: "",
    summary: "set quotas in MB (unlimited clears one)",
    options: {
      storage: { type: "string", help: "storage quota in MB" },
      traffic: { type: "string", help: "monthly pull-traffic quota in MB" },
    },
    max: 0,
    async run(ctx) {
      const storageMb = quotaMb(str(ctx, "storage"), "storage");
      const trafficMb = quotaMb(str(ctx, "traffic"), "traffic");
      if (storageMb === undefined && trafficMb === undefined) {
        throw new UsageError("give --storage MB, --traffic MB, or both");
      }
      const q = await ctx.client().quota.set.mutate({
        ...(storageMb !== undefined ? { storageMb } : {}),
        ...(trafficMb !== undefined ? { trafficMb } : {}),
      });
      return {
        data: q,
        text: `Quotas of region ${q.region}: storage ${formatMb(q.quotas.storageMb)}, pull traffic ${formatMb(q.quotas.trafficMb)}.`,
      };
    },
  },
  {
    name: "plan",
    args: "",
    summary: "show the pricing plan of the region",
    max: 0,
    async run(ctx) {
      const p = await ctx.client().plan.get.query();
      return {
        data: p,
        text: renderPairs([
          ["Region", p.region],
          ["Plan", p.plan],
          ["Storage cap", p.caps.storageBytes === null ? "none" : formatBytes(p.caps.storageBytes)],
          [
            "Traffic cap",
            p.caps.pullTrafficBytes === null
              ? "none"
              : `${formatBytes(p.caps.pullTrafficBytes)} a month`,
          ],
        ]),
      };
    },
  },
  {
    name: "plan-upgrade",
    args: "[PLAN]",
    summary: "upgrade the plan of the region to standard",
    max: 1,
    async run(ctx) {
      const plan = ctx.args[0] ?? "standard";
      const p = await ctx.client().plan.set.mutate({ plan: plan as "standard" });
      return {
        data: p,
        text: p.changed
          ? `Plan of region ${p.region} upgraded to ${p.plan}.`
          : `Plan of region ${p.region} is already ${p.plan}.`,
      };
    },
  },
  {
    name: "token-add",
    args: "",
    summary: "create a registry token (secret shown once)",
    options: {
      readwrite: { type: "boolean", help: "allow pushes too (default read-only)" },
      "non-expiring": { type: "boolean", help: "never expire (default: 24 hours)" },
      description: { type: "string", help: "what the token is for" },
    },
    max: 0,
    async run(ctx) {
      const description = str(ctx, "description");
      const t = await ctx.client().registrytoken.create.mutate({
        access: flag(ctx, "readwrite") ? "readwrite" : "read",
        nonExpiring: flag(ctx, "non-expiring"),
        ...(description !== undefined ? { description } : {}),
      });
      return {
        data: t,
        text: `${renderPairs([
          ["Token ID", t.id],
          ["Username", t.username],
          ["Secret", t.secret],
          ["Access", t.access],
          ["Expires", t.expiresAt ? formatTime(t.expiresAt) : "never"],
          ["Description", t.description],
        ])}\n\nKeep the secret now: it cannot be shown again.`,
      };
    },
  },
  {
    name: "token-list",
    args: "",
    summary: "list registry tokens",
    max: 0,
    async run(ctx) {
      const rows = await ctx.client().registrytoken.list.query();
      return {
        data: rows,
        text: renderTable<(typeof rows)[number]>(
          [
            { header: "TOKEN ID", value: (r) => r.id },
            { header: "ACCESS", value: (r) => r.access },
            {
              header: "EXPIRES",
              value: (r) =>
                r.expired ? "expired" : r.expiresAt ? formatTime(r.expiresAt) : "never",
            },
            { header: "LAST USED", value: (r) => formatTime(r.lastUsedAt) },
            { header: "DESCRIPTION", value: (r) => r.description },
          ],
          rows,
        ),
      };
    },
  },
  {
    name: "token-get",
    args: "TOKEN_ID",
    summary: "show one registry token",
    min: 1,
    max: 1,
    async run(ctx) {
      const t = await ctx.client().registrytoken.get.query({ id: ctx.args[0]! });
      return {
        data: t,
        text: renderPairs([
          ["Token ID", t.id],
          ["Region", t.region],
          ["Access", t.access],
          ["Description", t.description],
          ["Expires", t.expired ? "expired" : t.expiresAt ? formatTime(t.expiresAt) : "never"],
          ["Created", formatTime(t.createdAt)],
          ["Created by", t.createdBy],
          ["Last used", formatTime(t.lastUsedAt)],
        ]),
      };
    },
  },
  {
    name: "token-rm",
    args: "TOKEN_ID...",
    summary: "delete registry tokens",
    options: { force: { type: "boolean", short: "f", help: "do not ask for confirmation" } },
    min: 1,
    async run(ctx) {
      const client = ctx.client();
      const ids = ctx.args;
      await confirm(
        ctx,
        `Delete ${ids.length === 1 ? "registry token" : `${ids.length} registry tokens`} ${ids.join(", ")}?`,
      );
      if (ids.length === 1) {
        const r = await client.registrytoken.delete.mutate({ id: ids[0]! });
        return bulkOutput("REMOVED", [{ target: r.id, ok: true }], r);
      }
      const r = await client.registrytokens.delete.mutate({ ids });
      return bulkOutput("REMOVED", r.results, r);
    },
  },
  {
    name: "exemption-add",
    args: "",
    summary: "exempt a CVE or configuration issue in a scope",
    options: {
      scope: { type: "string", help: "*, ns, ns/repo, ns/repo:tag or ns/repo@digest" },
      "issue-type": { type: "string", help: ISSUE_TYPES.join(" or ") },
      "issue-id": { type: "string", help: "e.g. CVE-2018-17929" },
    },
    max: 0,
    async run(ctx) {
      const e = await ctx.client().exemption.create.mutate(exemptionArgs(ctx));
      return {
        data: e,
        text: `Exemption of ${e.issueId} (${e.issueType}) added for scope ${e.scope}.`,
      };
    },
  },
  {
    name: "exemption-list",
    args: "",
    summary: "list exemptions (--scope: those applying)",
    options: { scope: { type: "string", help: "only exemptions that apply to this scope" } },
    max: 0,
    async run(ctx) {
      const scope = str(ctx, "scope");
      const rows = await ctx.client().exemption.list.query(scope ? { scope } : undefined);
      return {
        data: rows,
        text: renderTable<(typeof rows)[number]>(
          [
            { header: "SCOPE", value: (r) => r.scope },
            { header: "ISSUE TYPE", value: (r) => r.issueType },
            { header: "ISSUE ID", value: (r) => r.issueId },
            { header: "CREATED", value: (r) => formatTime(r.createdAt) },
          ],
          rows,
        ),
      };
    },
  },
  {
    name: "exemption-rm",
    args: "",
    summary: "remove an exemption",
    options: {
      scope: { type: "string", help: "the exemption's scope" },
      "issue-type": { type: "string", help: ISSUE_TYPES.join(" or ") },
      "issue-id": { type: "string", help: "the exempted issue" },
    },
    max: 0,
    async run(ctx) {
      const e = await ctx.client().exemption.delete.mutate(exemptionArgs(ctx));
      return { data: e, text: `Exemption of ${e.issueId} removed from scope ${e.scope}.` };
    },
  },
  {
    name: "events",
    args: "",
    summary: "query the account's events (--follow: live)",
    options: {
      "tracker-region": {
        type: "string",
        help: "tracker region (default: where this region's events go)",
      },
      action: {
        type: "string",
        multiple: true,
        help: "actions, e.g. namespace.create (repeat or comma-separate)",
      },
      outcome: { type: "string", multiple: true, help: "success, failure, pending" },
      severity: { type: "string", multiple: true, help: "normal, warning, critical" },
      initiator: { type: "string", help: "initiator id or name" },
      target: { type: "string", help: "target name or CRN; a trailing * matches a prefix" },
      query: { type: "string", help: "free text" },
      from: { type: "string", help: "oldest time (ISO-8601 or Unix time)" },
      to: { type: "string", help: "newest time" },
      size: { type: "string", help: "events per page (default 50, at most 1000)" },
      page: { type: "string", help: "the pagination id a previous page printed" },
      follow: { type: "boolean", short: "f", help: "print new events as they arrive" },
    },
    max: 0,
    async run(ctx) {
      if (flag(ctx, "follow")) return followEvents(ctx);
      const sizeText = str(ctx, "size");
      if (sizeText !== undefined && !/^\d+$/.test(sizeText)) {
        throw new UsageError("--size takes a number of events");
      }
      const from = str(ctx, "from");
      const to = str(ctx, "to");
      const page = str(ctx, "page");
      const result = await ctx.client().events.query.query({
        ...eventFilters(ctx),
        ...(from ? { from } : {}),
        ...(to ? { to } : {}),
        ...(sizeText ? { size: Number(sizeText) } : {}),
        ...(page ? { paginationId: page } : {}),
      });
      if (result.paginationId && !ctx.json) {
        ctx.io.stderr.write(`more events: berth events --page ${result.paginationId}\n`);
      }
      return {
        data: result,
        text: renderTable(eventColumns, result.lines),
      };
    },
  },
  {
    name: "delivery-status",
    args: "",
    summary: "pending and dead events, delivery lag",
    max: 0,
    async run(ctx) {
      const s = await ctx.client().delivery.status.query();
      return {
        data: s,
        text: renderPairs([
          ["Pending", s.pending],
          ["Dead", s.dead],
          ["Lag", s.pending > 0 ? formatDuration(s.lagMs) : "none"],
        ]),
      };
    },
  },
  {
    name: "delivery-dead",
    args: "",
    summary: "list dead letters with their reasons",
    max: 0,
    async run(ctx) {
      const rows = await ctx.client().delivery.dead.query();
      return {
        data: rows,
        text: renderTable<(typeof rows)[number]>(
          [
            { header: "EVENT ID", value: (r) => r.id },
            { header: "ACTION", value: (r) => shortAction(r.action) },
            { header: "ATTEMPTS", value: (r) => r.attempts, align: "right" },
            { header: "DEAD SINCE", value: (r) => formatTime(r.deadAt) },
            { header: "REASON", value: (r) => r.reason },
          ],
          rows,
        ),
      };
    },
  },
  {
    name: "delivery-redrive",
    args: "[EVENT_ID...]",
    summary: "send dead events again (--all: every one)",
    options: { all: { type: "boolean", help: "every dead event of the account" } },
    async run(ctx) {
      if (ctx.args.length === 0 && !flag(ctx, "all")) {
        throw new UsageError("give the event ids to redrive, or --all");
      }
      const r = await ctx
        .client()
        .delivery.redrive.mutate(ctx.args.length > 0 ? { ids: ctx.args } : {});
      return { data: r, text: `${r.redriven} event(s) sent back for delivery.` };
    },
  },
];

function exemptionArgs(ctx: CommandContext) {
  const scope = str(ctx, "scope");
  const issueType = str(ctx, "issue-type");
  const issueId = str(ctx, "issue-id");
  if (!scope || !issueType || !issueId) {
    throw new UsageError("give --scope, --issue-type and --issue-id");
  }
  if (!(ISSUE_TYPES as readonly string[]).includes(issueType)) {
    throw new UsageError(`--issue-type is ${ISSUE_TYPES.join(" or ")}`);
  }
  return { scope, issueType, issueId } as
    | { scope: string; issueType: "cve"; issueId: string }
    | { scope: string; issueType: "configuration"; issueId: string };
}

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export { errorMessage };
