/**
 * The shape of one `cairn` subcommand and the code every subcommand shares: parsing its flags,
 * printing its usage, and turning errors into exit codes (0 ok, 1 failed, 2 usage error).
 *
 * @module
 */

import type { Runtime } from "../runtime.ts";
import {
  FlagError,
  type Flags,
  type FlagSpecs,
  formatFlagHelp,
  parseFlags,
  wrapText,
} from "./flags.ts";
import { HTTP_FLAGS } from "./http_client.ts";

/** What a running command writes to and reads from. */
export interface CommandContext {
  readonly runtime: Runtime;
  /** Writes `text` and a newline to stdout (Consul's `UI.Output`). */
  out(text: string): void;
  /** Writes `text` and a newline to stderr (Consul's `UI.Error`). */
  err(text: string): void;
}

/** One subcommand, such as `kv get`. */
export interface Command {
  /** The words after `cairn`, e.g. "kv get". */
  name: string;
  /** One line for the list of commands. */
  synopsis: string;
  /** What follows the command in the usage line, e.g. "[options] KEY". */
  arguments: string;
  /** A paragraph or two for `-help`, separated by blank lines. */
  description: string;
  /** The command's own flags. */
  flags: FlagSpecs;
  /** Whether the command talks to an agent and so takes the common HTTP API flags. */
  http: boolean;
  /** Runs with parsed flags; returns the exit code. A thrown `FlagError` is a usage error. */
  run(context: CommandContext, flags: Flags): Promise<number>;
}

/**
 * Wraps `runtime`'s output streams as line writers.
 *
 * @param runtime where the text goes
 * @returns the context commands run in
 */
export function createCommandContext(runtime: Runtime): CommandContext {
  return {
    runtime,
    out: (text) => runtime.writeStdout(`${text}\n`),
    err: (text) => runtime.writeStderr(`${text}\n`),
  };
}

/**
 * Parses `args` for `command` and runs it. `-h`/`-help`/`--help` print the usage on stdout (exit
 * 0); a usage error prints a one-line reason and the usage on stderr (exit 2); any other error
 * prints its message on stderr (exit 1).
 *
 * @param command what to run
 * @param context where output goes
 * @param args the arguments after the command's name
 * @returns the exit code
 */
export async function runCommand(
  command: Command,
  context: CommandContext,
  args: string[],
): Promise<number> {
  try {
    const flags = parseFlags(args, commandFlagSpecs(command));
    return await command.run(context, flags);
  } catch (error) {
    if (error instanceof FlagError) {
      if (error.helpRequested) {
        context.out(formatCommandUsage(command));
        return 0;
      }
      context.err(error.message);
      context.err("");
      context.err(formatCommandUsage(command));
      return 2;
    }
    context.err(error instanceof Error ? error.message : String(error));
    return 1;
  }
}

/** The flags `command` accepts: its own plus, for client commands, the HTTP API flags. */
export function commandFlagSpecs(command: Command): FlagSpecs {
  return command.http ? { ...HTTP_FLAGS, ...command.flags } : command.flags;
}

/**
 * Renders `command`'s usage text, in the layout of Consul's `-help`.
 *
 * @param command the command to describe
 * @returns the text, no final newline
 */
export function formatCommandUsage(command: Command): string {
  const parts = [`Usage: cairn ${command.name} ${command.arguments}`.trimEnd()];
  for (const paragraph of command.description.split(/\n\s*\n/)) {
    parts.push(wrapText(paragraph, 98).map((line) => `  ${line}`).join("\n"));
  }
  if (command.http) parts.push("HTTP API Options", formatFlagHelp(HTTP_FLAGS));
  if (Object.keys(command.flags).length > 0) {
    parts.push(command.http ? "Command Options" : "Options", formatFlagHelp(command.flags));
  }
  return parts.join("\n\n");
}

/**
 * The message of a caught value, for one-line error output.
 *
 * @param error anything thrown
 * @returns its message
 */
export function errorMessage(error: unknown): string {
  if (error instanceof Error && error.name === "ZodError") {
    return "the agent's answer is not in the expected shape";
  }
  return error instanceof Error ? error.message : String(error);
}
