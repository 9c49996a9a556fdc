/**
 * The `cairn` command line: finds the subcommand named by the arguments and runs it. Everything
 * goes through a {@link Runtime}, so tests run the CLI in-process with a fake one.
 *
 * @module
 */

import type { Runtime } from "../runtime.ts";
import { type AgentCommandOptions, createAgentCommand } from "./agent_command.ts";
import {
  catalogDatacentersCommand,
  catalogNodesCommand,
  catalogServicesCommand,
} from "./catalog_commands.ts";
import { type Command, createCommandContext, runCommand } from "./command.ts";
import {
  eventCommand,
  forceLeaveCommand,
  joinCommand,
  keygenCommand,
  keyringCommand,
} from "./gossip_commands.ts";
import { infoCommand } from "./info_command.ts";
import {
  kvDeleteCommand,
  kvExportCommand,
  kvGetCommand,
  kvImportCommand,
  kvPutCommand,
} from "./kv_commands.ts";
import { leaveCommand } from "./leave_command.ts";
import { membersCommand } from "./members_command.ts";
import {
  operatorRaftListPeersCommand,
  operatorRaftRemovePeerCommand,
} from "./operator_commands.ts";
import { rttCommand } from "./rtt_command.ts";
import { servicesDeregisterCommand, servicesRegisterCommand } from "./services_commands.ts";
import {
  snapshotInspectCommand,
  snapshotRestoreCommand,
  snapshotSaveCommand,
} from "./snapshot_commands.ts";
import { versionCommand } from "./version_command.ts";

/** Options of {@link runCli}. */
export type CliOptions = AgentCommandOptions;

/** Commands that only group subcommands, with their synopsis. */
const commandGroups: Record<string, string> = {
  catalog: "Interact with the catalog",
  kv: "Interact with the key-value store",
  services: "Interact with services",
  operator: "Provides cluster-level tools for operators",
  snapshot: "Saves, restores and inspects snapshots of the server state",
};

const helpWords = new Set(["-h", "-help", "--help", "help"]);
const versionWords = new Set(["-v", "-version", "--version"]);

/**
 * Runs `cairn` with `args` and returns the exit code: 0 done, 1 failed, 2 usage error (and what
 * a command such as `members -status` documents).
 *
 * @param runtime the outside world: arguments are taken from `args`, not from it
 * @param args the arguments after the program, e.g. `["kv", "get", "a"]`
 * @param options a stand-in `startAgent` for tests of `cairn agent`
 * @returns the exit code
 * @example const code = await runCli(runtime, runtime.args());
 */
export async function runCli(
  runtime: Runtime,
  args: string[],
  options: CliOptions = {},
): Promise<number> {
  const context = createCommandContext(runtime);
  const commands = listCommands(options);
  // Consul prints its usage and exits 127 when run without arguments; cairn exits 2, the code
  // for every other usage error.
  if (args.length === 0) {
    context.err(formatCliUsage(commands));
    return 2;
  }
  const [first, ...rest] = args;
  if (helpWords.has(first)) {
    context.out(formatCliUsage(commands));
    return 0;
  }
  if (versionWords.has(first)) return await runCommand(versionCommand, context, []);
  const direct = commands.find((command) => command.name === first);
  if (direct !== undefined) return await runCommand(direct, context, rest);
  if (!Object.hasOwn(commandGroups, first)) {
    context.err(`Cannot run "${first}": there is no such command`);
    context.err("");
    context.err(formatCliUsage(commands));
    return 2;
  }
  const [second, ...subcommandArgs] = rest;
  // Three words deep, e.g. "operator raft list-peers".
  const nested = commands.find((command) =>
    command.name === `${first} ${second} ${subcommandArgs[0]}`
  );
  if (nested !== undefined) return await runCommand(nested, context, subcommandArgs.slice(1));
  if (second !== undefined && helpWords.has(second)) {
    context.out(formatGroupUsage(first, commands));
    return 0;
  }
  const subcommand = commands.find((command) => command.name === `${first} ${second}`);
  if (subcommand === undefined) {
    context.err(
      second === undefined
        ? `Cannot run "${first}": give a subcommand`
        : `Cannot run "${first} ${second}": there is no such command`,
    );
    context.err("");
    context.err(formatGroupUsage(first, commands));
    return 2;
  }
  return await runCommand(subcommand, context, subcommandArgs);
}

/**
 * Every command `cairn` has, in the order of its usage text.
 *
 * @param options passed to the `agent` command
 * @returns the commands
 */
export function listCommands(options: CliOptions = {}): Command[] {
  return [
    createAgentCommand(options),
    catalogDatacentersCommand,
    catalogNodesCommand,
    catalogServicesCommand,
    eventCommand,
    forceLeaveCommand,
    infoCommand,
    joinCommand,
    keygenCommand,
    keyringCommand,
    kvDeleteCommand,
    kvExportCommand,
    kvGetCommand,
    kvImportCommand,
    kvPutCommand,
    leaveCommand,
    membersCommand,
    operatorRaftListPeersCommand,
    operatorRaftRemovePeerCommand,
    rttCommand,
    servicesDeregisterCommand,
    servicesRegisterCommand,
    snapshotInspectCommand,
    snapshotRestoreCommand,
    snapshotSaveCommand,
    versionCommand,
  ];
}

/**
 * The top-level usage text, listing the commands as Consul's does.
 *
 * @param commands from {@link listCommands}
 * @returns the text, no final newline
 */
export function formatCliUsage(commands: Command[]): string {
  const entries = new Map<string, string>();
  for (const command of commands) {
    const [head] = command.name.split(" ");
    entries.set(head, commandGroups[head] ?? command.synopsis);
  }
  return [
    "Usage: cairn [--version] [--help] <command> [<args>]",
    "",
    "Available commands are:",
    formatCommandList(entries),
  ].join("\n");
}

function formatGroupUsage(group: string, commands: Command[]): string {
  const entries = new Map<string, string>();
  for (const command of commands) {
    const [head, tail] = command.name.split(" ");
    if (head === group && tail !== undefined) entries.set(tail, command.synopsis);
  }
  return [
    `Usage: cairn ${group} <subcommand> [options] [args]`,
    "",
    `  ${
      commandGroups[group]
    }. Run "cairn ${group} <subcommand> -help" for a subcommand's options.`,
    "",
    "Subcommands:",
    formatCommandList(entries),
  ].join("\n");
}

function formatCommandList(entries: Map<string, string>): string {
  const names = [...entries.keys()].sort();
  const width = Math.max(...names.map((name) => name.length));
  return names.map((name) => `    ${name.padEnd(width)}    ${entries.get(name)}`).join("\n");
}
