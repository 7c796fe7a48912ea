import type { Command } from "../types";
import { buildCommand } from "./build";
import { deliveryCommands } from "./delivery";
import { eventCommands } from "./events";
import { exemptionCommands } from "./exemptions";
import { imageCommands } from "./images";
import { namespaceCommands } from "./namespaces";
import { quotaCommands } from "./quota";
import { sessionCommands } from "./session";
import { tokenCommands } from "./tokens";
import { verifyCommands } from "./verify";

/** Every verb, in the order `berth --help` lists them. */
export const COMMANDS: Command[] = [
  ...sessionCommands,
  ...namespaceCommands,
  ...imageCommands,
  buildCommand,
  ...quotaCommands,
  ...tokenCommands,
  ...exemptionCommands,
  ...eventCommands,
  ...verifyCommands,
  ...deliveryCommands,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
