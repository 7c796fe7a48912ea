import { ISSUE_TYPES } from "@berth/core";
import { formatTime } from "../../format";
import { UsageError } from "../errors";
import { str } from "../input";
import { PAGE_SIZE_OPTION, printPages } from "../pages";
import type { Command, CommandContext } from "../types";

/** What names an exemption, to add or to remove it (read by exemptionArgs). */
const EXEMPTION_OPTIONS = {
  scope: { type: "string", help: "*, ns, ns/repo, ns/repo:tag or ns/repo@digest" },
  "issue-type": { type: "string", help: ISSUE_TYPES.join(" or ") },
  "issue-id": { type: "string", help: "e.g. CVE-2018-17929" },
} as const;

export const exemptionCommands: Command[] = [
  {
    name: "exemption-add",
    args: "",
    summary: "exempt a CVE or configuration issue in a scope",
    example: "berth exemption-add --scope birds --issue-type cve --issue-id CVE-2018-17929",
    options: EXEMPTION_OPTIONS,
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
    example: "berth exemption-list --scope birds/robin:1.0",
    options: {
      scope: { type: "string", help: "only exemptions that apply to this scope" },
      ...PAGE_SIZE_OPTION,
    },
    max: 0,
    run(ctx) {
      const scope = str(ctx, "scope");
      const client = ctx.client();
      return printPages(
        ctx,
        (page) => client.exemption.list.query({ ...(scope ? { scope } : {}), ...page }),
        {
          columns: [
            { header: "SCOPE", value: (r) => r.scope },
            { header: "ISSUE TYPE", value: (r) => r.issueType },
            { header: "ISSUE ID", value: (r) => r.issueId },
            { header: "CREATED", value: (r) => formatTime(r.createdAt) },
          ],
        },
      );
    },
  },
  {
    name: "exemption-rm",
    args: "",
    summary: "remove an exemption",
    example: "berth exemption-rm --scope birds --issue-type cve --issue-id CVE-2018-17929",
    options: EXEMPTION_OPTIONS,
    max: 0,
    async run(ctx) {
      const e = await ctx.client().exemption.delete.mutate(exemptionArgs(ctx));
      return { data: e, text: `Exemption of ${e.issueId} removed from scope ${e.scope}.` };
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
