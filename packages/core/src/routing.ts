import { z } from "zod";
import { REGION_NAMES } from "./regions";

/**
 * Where each event region's events are delivered: event region → tracker
 * region. Routing works on plain strings, not RegionName, because later
 * tables name regions (jp-osa, br-sao, ca-tor) that this code has never
 * heard of and must route without a release.
 */
export interface RoutingTable {
  readonly name: string;
  readonly routes: Readonly<Record<string, string>>;
}

/** DESIGN §2 as the service first shipped: Tokyo's events went to Sydney. */
export const DEFAULT_ROUTING: RoutingTable = freezeTable({
  name: "default",
  routes: {
    "ap-north": "ap-south",
    "ap-south": "ap-south",
    "eu-central": "eu-central",
    "uk-south": "uk-south",
    "us-south": "us-south",
    global: "us-south",
  },
});

/** Later versions of the service: Sydney's events went to Tokyo and more regions appeared. */
export const LATER_ROUTING: RoutingTable = freezeTable({
  name: "later",
  routes: {
    "ap-north": "ap-north",
    "ap-south": "ap-north",
    "eu-central": "eu-central",
    "uk-south": "uk-south",
    "us-south": "us-south",
    global: "us-south",
    "jp-osa": "jp-osa",
    "br-sao": "br-sao",
    "ca-tor": "ca-tor",
  },
});

export const ROUTING_TABLES: Readonly<Record<string, RoutingTable>> = Object.freeze({
  default: DEFAULT_ROUTING,
  later: LATER_ROUTING,
});

export class RoutingError extends Error {
  override readonly name = "RoutingError";
}

export function routeEvent(region: string, table: RoutingTable = DEFAULT_ROUTING): string {
  // hasOwn, so a region called "constructor" cannot pick up Object.prototype.
  const destination = Object.hasOwn(table.routes, region) ? table.routes[region] : undefined;
  if (destination === undefined) {
    throw new RoutingError(
      `region "${region}" is not in routing table "${table.name}" (it routes: ${Object.keys(table.routes).join(", ")})`,
    );
  }
  return destination;
}

const REGION_TOKEN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const REGION_TOKEN_HINT = "lowercase words joined by '-', e.g. jp-osa";

const routesSchema = z.record(z.string(), z.string()).superRefine((routes, ctx) => {
  if (Object.keys(routes).length === 0) {
    ctx.addIssue({ code: "custom", message: "routes must not be empty" });
  }
  for (const [from, to] of Object.entries(routes)) {
    for (const region of [from, to]) {
      if (!REGION_TOKEN.test(region)) {
        ctx.addIssue({
          code: "custom",
          path: [from],
          message: `"${region}" is not a region name (${REGION_TOKEN_HINT})`,
        });
      }
    }
  }
});

const fullTableSchema = z.strictObject({
  name: z.string().min(1).optional(),
  routes: routesSchema,
});

/**
 * Read a routing table from configuration (BERTH_ROUTING): a built-in name
 * ("default", "later"), an inline list "ap-north=ap-south,global=us-south",
 * or JSON (`{"name":..., "routes":{...}}` or just the routes object).
 * Inline and JSON tables only list exceptions: every region Berth knows that
 * they leave out routes to itself.
 */
export function parseRoutingTable(spec: string): RoutingTable {
  const text = spec.trim();
  if (text === "") {
    throw new RoutingError(
      `routing table spec is empty; use ${Object.keys(ROUTING_TABLES).join(" or ")}, "region=tracker,..." or JSON`,
    );
  }
  if (Object.hasOwn(ROUTING_TABLES, text)) return ROUTING_TABLES[text]!;
  if (text.startsWith("{") || text.startsWith("[")) return parseJsonTable(text);
  if (!text.includes("=")) {
    throw new RoutingError(
      `unknown routing table "${text}" (built-in: ${Object.keys(ROUTING_TABLES).join(", ")}; or give "region=tracker,..." or JSON)`,
    );
  }
  return parseInlineTable(text);
}

function parseInlineTable(text: string): RoutingTable {
  const routes: Record<string, string> = {};
  for (const raw of text.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const parts = entry.split("=");
    if (parts.length !== 2) {
      throw new RoutingError(
        `routing entry "${entry}" must look like <event region>=<tracker region>`,
      );
    }
    const from = parts[0]!.trim();
    const to = parts[1]!.trim();
    for (const region of [from, to]) {
      if (!REGION_TOKEN.test(region)) {
        throw new RoutingError(
          `routing entry "${entry}": "${region}" is not a region name (${REGION_TOKEN_HINT})`,
        );
      }
    }
    if (Object.hasOwn(routes, from)) {
      throw new RoutingError(`routing entry for "${from}" is given twice`);
    }
    routes[from] = to;
  }
  if (Object.keys(routes).length === 0) throw new RoutingError("routing table has no entries");
  return withSelfRoutes("custom", routes);
}

function parseJsonTable(text: string): RoutingTable {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new RoutingError(`routing table JSON does not parse: ${(error as Error).message}`);
  }
  // A "routes" key holding an object marks the {name, routes} form; anything
  // else is taken as the bare routes map, so each form gets its own messages.
  const isFullTable =
    typeof json === "object" &&
    json !== null &&
    "routes" in json &&
    typeof json.routes === "object" &&
    json.routes !== null;
  if (isFullTable) {
    const table = fullTableSchema.safeParse(json);
    if (!table.success) throw invalidJson(table.error);
    return withSelfRoutes(table.data.name ?? "custom", table.data.routes);
  }
  const routes = routesSchema.safeParse(json);
  if (!routes.success) throw invalidJson(routes.error);
  return withSelfRoutes("custom", routes.data);
}

function invalidJson(error: z.ZodError): RoutingError {
  return new RoutingError(`routing table JSON is invalid: ${z.prettifyError(error)}`);
}

function withSelfRoutes(name: string, routes: Record<string, string>): RoutingTable {
  const complete: Record<string, string> = {};
  for (const region of REGION_NAMES) complete[region] = region;
  return freezeTable({ name, routes: Object.assign(complete, routes) });
}

function freezeTable(table: RoutingTable): RoutingTable {
  return Object.freeze({ name: table.name, routes: Object.freeze({ ...table.routes }) });
}
