/**
 * `cairn members`: the gossip members the agent sees, as Consul's `command/members` prints them.
 *
 * @module
 */

import { z } from "zod";
import { type Command, type CommandContext, errorMessage } from "./command.ts";
import { FlagError, type Flags } from "./flags.ts";
import { createHttpClient } from "./http_client.ts";
import { columnize } from "./table.ts";

const memberSchema = z.object({
  Name: z.string(),
  Addr: z.string(),
  Port: z.number(),
  Tags: z.record(z.string(), z.string()).nullable().optional(),
  Status: z.number(),
});

/** A member as `/v1/agent/members` returns it (the fields the CLI prints). */
export type AgentMember = z.infer<typeof memberSchema>;

/** Serf's member status names by number (`serf.MemberStatus.String()`). */
export const MEMBER_STATUS_NAMES: readonly string[] = [
  "none",
  "alive",
  "leaving",
  "left",
  "failed",
];

/** `cairn members`. */
export const membersCommand: Command = {
  name: "members",
  synopsis: "Lists the members of a cluster",
  arguments: "[options]",
  description: "Prints the members the agent knows through gossip, with their address, status, " +
    "type, build, protocol and datacenter. Exits 2 when no member matches -status.",
  http: true,
  flags: {
    detailed: { type: "boolean", description: "Print every tag of each member instead." },
    status: {
      type: "string",
      placeholder: "<regexp>",
      description: "Only members whose status (alive, leaving, left, failed) matches.",
    },
    wan: { type: "boolean", description: "List the WAN members (servers of every datacenter)." },
  },
  run: runMembers,
};

async function runMembers(context: CommandContext, flags: Flags): Promise<number> {
  if (flags.positionals.length > 0) {
    throw new FlagError(`Cannot use argument "${flags.positionals[0]}": members takes only flags`);
  }
  let statusPattern: RegExp;
  try {
    statusPattern = new RegExp(flags.string("status") ?? ".*");
  } catch (error) {
    context.err(`Failed to compile status regexp: ${errorMessage(error)}`);
    return 1;
  }
  const client = await createHttpClient(context.runtime, flags);
  let members: AgentMember[];
  try {
    const query: Array<[string, string]> = flags.boolean("wan") ? [["wan", "1"]] : [];
    members = z.array(memberSchema).nullable().parse(
      await client.json("GET", "/v1/agent/members", { query }),
    ) ?? [];
  } catch (error) {
    context.err(`Error retrieving members: ${errorMessage(error)}`);
    return 1;
  }
  members = members.filter((member) => statusPattern.test(statusName(member.Status)));
  // Consul exits 2 when nothing matches, which scripts use to test for a member.
  if (members.length === 0) return 2;
  members.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  context.out(formatMembers(members, flags.boolean("detailed")));
  return 0;
}

/**
 * Renders members as `consul members` does.
 *
 * @param members the members, already filtered and sorted
 * @param detailed print all tags rather than type, build, protocol and DC
 * @returns the table, no final newline
 */
export function formatMembers(members: AgentMember[], detailed: boolean): string {
  const delimiter = "\x1f";
  const lines = [
    detailed
      ? ["Node", "Address", "Status", "Tags"].join(delimiter)
      : ["Node", "Address", "Status", "Type", "Build", "Protocol", "DC"].join(delimiter),
  ];
  for (const member of members) {
    const tags = member.Tags ?? {};
    const address = formatHostPort(member.Addr, member.Port);
    const status = statusName(member.Status);
    if (detailed) {
      const pairs = Object.keys(tags).sort().map((key) => `${key}=${tags[key]}`).join(",");
      lines.push([member.Name, address, status, pairs].join(delimiter));
      continue;
    }
    let build = tags.build ?? "";
    if (build === "") build = "< 0.3";
    else if (build.includes(":")) build = build.slice(0, build.indexOf(":"));
    const type = tags.role === "consul" ? "server" : tags.role === "node" ? "client" : "unknown";
    lines.push(
      [member.Name, address, status, type, build, tags.vsn ?? "", tags.dc ?? ""].join(delimiter),
    );
  }
  return columnize(lines, delimiter);
}

function statusName(status: number): string {
  return MEMBER_STATUS_NAMES[status] ?? `unknown(${status})`;
}

// Go's net.TCPAddr.String(): IPv6 in brackets.
function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
