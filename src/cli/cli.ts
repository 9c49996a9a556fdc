/**
 * The `cairn` command line: finds the subcommand named by the arguments and runs it. Everything
 * goes through a {@link Runtime}, so tests run the CLI in-process with a fake one. Each command's
 * module is imported only when that command runs ({@link COMMAND_TABLE}): `cairn agent` starts
 * without parsing the client commands, and `cairn kv get` without the agent.
 *
 * @module
 */

import type { Runtime } from "../runtime.ts";
import type { AgentCommandOptions } from "./agent_command.ts";
import { type Command, createCommandContext, runCommand } from "./command.ts";

/** Options of {@link runCli}. */
export type CliOptions = AgentCommandOptions;

/** A command as the usage text lists it, and how to load it. */
export interface CommandEntry {
  /** The words after `cairn`, as the command's `name`. */
  readonly name: string;
  /** The command's `synopsis` (test/cli/command_table_test.ts keeps the two equal). */
  readonly synopsis: string;
  /** Imports the command's module: `cairn agent` loads no other command's code, and no command
   * loads the agent's. */
  readonly load: (options: CliOptions) => Promise<Command>;
}

/** Every command `cairn` has, in the order of its usage text, each loaded only when it runs. */
export const COMMAND_TABLE: readonly CommandEntry[] = [
  {
    name: "agent",
    synopsis: "Runs a cairn agent",
    load: async (options) => (await import("./agent_command.ts")).createAgentCommand(options),
  },
  {
    name: "catalog datacenters",
    synopsis: "Lists all known datacenters",
    load: async () => (await import("./catalog_commands.ts")).catalogDatacentersCommand,
  },
  {
    name: "catalog nodes",
    synopsis: "Lists all nodes in the given datacenter",
    load: async () => (await import("./catalog_commands.ts")).catalogNodesCommand,
  },
  {
    name: "catalog services",
    synopsis: "Lists all registered services in a datacenter",
    load: async () => (await import("./catalog_commands.ts")).catalogServicesCommand,
  },
  {
    name: "event",
    synopsis: "Fire a new event",
    load: async () => (await import("./gossip_commands.ts")).eventCommand,
  },
  {
    name: "force-leave",
    synopsis: 'Forces a member of the cluster to enter the "left" state',
    load: async () => (await import("./gossip_commands.ts")).forceLeaveCommand,
  },
  {
    name: "info",
    synopsis: "Provides debugging information for operators",
    load: async () => (await import("./info_command.ts")).infoCommand,
  },
  {
    name: "join",
    synopsis: "Tell Consul agent to join cluster",
    load: async () => (await import("./gossip_commands.ts")).joinCommand,
  },
  {
    name: "keygen",
    synopsis: "Generates a new encryption key",
    load: async () => (await import("./gossip_commands.ts")).keygenCommand,
  },
  {
    name: "keyring",
    synopsis: "Manages gossip layer encryption keys",
    load: async () => (await import("./gossip_commands.ts")).keyringCommand,
  },
  {
    name: "kv delete",
    synopsis: "Removes data from the KV store",
    load: async () => (await import("./kv_commands.ts")).kvDeleteCommand,
  },
  {
    name: "kv export",
    synopsis: "Exports a tree from the KV store as JSON",
    load: async () => (await import("./kv_commands.ts")).kvExportCommand,
  },
  {
    name: "kv get",
    synopsis: "Retrieves or lists data from the KV store",
    load: async () => (await import("./kv_commands.ts")).kvGetCommand,
  },
  {
    name: "kv import",
    synopsis: "Imports a tree stored as JSON into the KV store",
    load: async () => (await import("./kv_commands.ts")).kvImportCommand,
  },
  {
    name: "kv put",
    synopsis: "Sets or updates data in the KV store",
    load: async () => (await import("./kv_commands.ts")).kvPutCommand,
  },
  {
    name: "leave",
    synopsis: "Gracefully leaves the cluster and shuts down",
    load: async () => (await import("./leave_command.ts")).leaveCommand,
  },
  {
    name: "members",
    synopsis: "Lists the members of a cluster",
    load: async () => (await import("./members_command.ts")).membersCommand,
  },
  {
    name: "operator raft list-peers",
    synopsis: "Display the current Raft peer configuration",
    load: async () => (await import("./operator_commands.ts")).operatorRaftListPeersCommand,
  },
  {
    name: "operator raft remove-peer",
    synopsis: "Remove a Consul server from the Raft configuration",
    load: async () => (await import("./operator_commands.ts")).operatorRaftRemovePeerCommand,
  },
  {
    name: "rtt",
    synopsis: "Estimates network round trip time between nodes",
    load: async () => (await import("./rtt_command.ts")).rttCommand,
  },
  {
    name: "services deregister",
    synopsis: "Deregisters services from the local agent",
    load: async () => (await import("./services_commands.ts")).servicesDeregisterCommand,
  },
  {
    name: "services register",
    synopsis: "Registers services with the local agent",
    load: async () => (await import("./services_commands.ts")).servicesRegisterCommand,
  },
  {
    name: "snapshot inspect",
    synopsis: "Displays information about a Consul snapshot file",
    load: async () => (await import("./snapshot_commands.ts")).snapshotInspectCommand,
  },
  {
    name: "snapshot restore",
    synopsis: "Restores snapshot of Consul server state",
    load: async () => (await import("./snapshot_commands.ts")).snapshotRestoreCommand,
  },
  {
    name: "snapshot save",
    synopsis: "Saves snapshot of Consul server state",
    load: async () => (await import("./snapshot_commands.ts")).snapshotSaveCommand,
  },
  {
    name: "version",
    synopsis: "Prints the cairn version",
    load: async () => (await import("./version_command.ts")).versionCommand,
  },
];

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
  const run = async (entry: CommandEntry, rest: string[]) =>
    await runCommand(await entry.load(options), context, rest);
  // Consul prints its usage and exits 127 when run without arguments; cairn exits 2, the code
  // for every other usage error.
  if (args.length === 0) {
    context.err(formatCliUsage(COMMAND_TABLE));
    return 2;
  }
  const [first, ...rest] = args;
  if (helpWords.has(first)) {
    context.out(formatCliUsage(COMMAND_TABLE));
    return 0;
  }
  if (versionWords.has(first)) return await run(findEntry("version")!, []);
  const direct = findEntry(first);
  if (direct !== undefined) return await run(direct, rest);
  if (!Object.hasOwn(commandGroups, first)) {
    context.err(`Cannot run "${first}": there is no such command`);
    context.err("");
    context.err(formatCliUsage(COMMAND_TABLE));
    return 2;
  }
  const [second, ...subcommandArgs] = rest;
  // Three words deep, e.g. "operator raft list-peers".
  const nested = findEntry(`${first} ${second} ${subcommandArgs[0]}`);
  if (nested !== undefined) return await run(nested, subcommandArgs.slice(1));
  if (second !== undefined && helpWords.has(second)) {
    context.out(formatGroupUsage(first, COMMAND_TABLE));
    return 0;
  }
  const subcommand = findEntry(`${first} ${second}`);
  if (subcommand === undefined) {
    context.err(
      second === undefined
        ? `Cannot run "${first}": give a subcommand`
        : `Cannot run "${first} ${second}": there is no such command`,
    );
    context.err("");
    context.err(formatGroupUsage(first, COMMAND_TABLE));
    return 2;
  }
  return await run(subcommand, subcommandArgs);
}

function findEntry(name: string): CommandEntry | undefined {
  return COMMAND_TABLE.find((entry) => entry.name === name);
}

/**
 * Every command `cairn` has, in the order of its usage text, loaded (which imports every
 * command's module: `runCli` loads only the one it runs).
 *
 * @param options passed to the `agent` command
 * @returns the commands
 */
export async function listCommands(options: CliOptions = {}): Promise<Command[]> {
  return await Promise.all(COMMAND_TABLE.map((entry) => entry.load(options)));
}

/** What the usage texts need of a command: a {@link Command} or a {@link CommandEntry}. */
export type CommandSummary = Pick<Command, "name" | "synopsis">;

/**
 * The top-level usage text, listing the commands as Consul's does.
 *
 * @param commands {@link COMMAND_TABLE}, or commands from {@link listCommands}
 * @returns the text, no final newline
 */
export function formatCliUsage(commands: readonly CommandSummary[]): string {
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

function formatGroupUsage(group: string, commands: readonly CommandSummary[]): string {
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
