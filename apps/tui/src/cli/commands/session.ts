import { isRegionName, REGION_NAMES } from "@berth/core";
import { connect } from "../../api";
import { checkUrl, maskKey, writeConfig } from "../../config";
import { CommandFailed, UsageError } from "../errors";
import { readAll, readSecret, str } from "../input";
import { renderPairs, renderTable } from "../table";
import type { Command } from "../types";

/** Where berth points and as whom: login, logout, regions, whoami. */
export const sessionCommands: Command[] = [
  {
    name: "login",
    args: "",
    summary: "store the server URL and API key",
    example: 'berth login --url http://127.0.0.1:5000 --api-key "$KEY"',
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
    example: "berth logout",
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
    example: "berth region-set ap-north --url http://127.0.0.1:5001",
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
    example: "berth region",
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
    example: "berth whoami -o json",
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
];
