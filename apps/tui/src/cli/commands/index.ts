import type { Command } from "../types";
import { buildCommand } from "./build";
import { deliveryCommands } from "./delivery";
import { eventCommands } from "./events";
import { exemptionCommands } from "./exemptions";
import { imageCommands } from "./images";
import { lifecycleCommands } from "./lifecycle";
import { namespaceCommands } from "./namespaces";
import { quotaCommands } from "./quota";
import { retentionCommands } from "./retention";
import { sessionCommands } from "./session";
import { tokenCommands } from "./tokens";
import { trashCommands } from "./trash";
import { verifyCommands } from "./verify";

/** Every verb, in the order `berth --help` lists them. */
export const COMMANDS: Command[] = [
  ...sessionCommands,
  ...namespaceCommands,
  ...imageCommands,
  ...trashCommands,
  ...lifecycleCommands,
  buildCommand,
  ...quotaCommands,
  ...retentionCommands,
  ...tokenCommands,
  ...exemptionCommands,
  ...eventCommands,
  ...verifyCommands,
  ...deliveryCommands,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
