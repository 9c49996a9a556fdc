/**
 * `cairn info`: the agent's debugging statistics (`Stats` of `/v1/agent/self`), printed by
 * section as Consul's `command/info` prints them.
 *
 * @module
 */

import { type Command, type CommandContext, errorMessage } from "./command.ts";
import { FlagError, type Flags } from "./flags.ts";
import { createHttpClient } from "./http_client.ts";

/** `cairn info`. */
export const infoCommand: Command = {
  name: "info",
  synopsis: "Provides debugging information for operators",
  arguments: "[options]",
  description: "Prints the agent's statistics by section (agent, consul, raft, serf_lan, " +
    "runtime, ...), each key with its value.",
  http: true,
  flags: {},
  run: runInfo,
};

async function runInfo(context: CommandContext, flags: Flags): Promise<number> {
  if (flags.positionals.length > 0) {
    throw new FlagError(`Cannot use argument "${flags.positionals[0]}": info takes only flags`);
  }
  const client = await createHttpClient(context.runtime, flags);
  let self: unknown;
  try {
    self = await client.json("GET", "/v1/agent/self");
  } catch (error) {
    context.err(`Error querying agent: ${errorMessage(error)}`);
    return 1;
  }
  const stats = isObject(self) ? self.Stats : undefined;
  if (!isObject(stats)) {
    context.err("Agent response did not contain 'Stats' key");
    return 1;
  }
  const lines = formatInfo(stats);
  if (lines === undefined) {
    context.err("Got invalid subkey in stats: every section must be an object");
    return 1;
  }
  for (const line of lines) context.out(line);
  return 0;
}

/**
 * Renders agent statistics as `consul info` does: sections sorted, then `\tkey = value` sorted.
 *
 * @param stats `Stats` of `/v1/agent/self`: section name to a map of strings
 * @returns the lines, or `undefined` when a section is not an object
 */
export function formatInfo(stats: Record<string, unknown>): string[] | undefined {
  const lines: string[] = [];
  for (const section of Object.keys(stats).sort()) {
    const values = stats[section];
    if (!isObject(values)) return undefined;
    lines.push(`${section}:`);
    for (const key of Object.keys(values).sort()) {
      const value = values[key];
      const text = typeof value === "object" && value !== null
        ? JSON.stringify(value)
        : String(value);
      lines.push(`\t${key} = ${text}`);
    }
  }
  return lines;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
