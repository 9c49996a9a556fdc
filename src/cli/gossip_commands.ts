/**
 * The gossip commands, as Consul's `command/{join,forceleave,event,keygen,keyring}` print them:
 * `cairn join`, `cairn force-leave`, `cairn event`, `cairn keygen` and `cairn keyring`.
 *
 * @module
 */

import { z } from "zod";
import { encodeBase64 } from "../core/base64.ts";
import { type Command, type CommandContext, errorMessage } from "./command.ts";
import { FlagError, type Flags } from "./flags.ts";
import { createHttpClient, escapePath } from "./http_client.ts";

/** The size of a key `cairn keygen` makes: 32 bytes (AES-256), as `consul keygen`. */
export const keygenBytes = 32;

/** `cairn join`: `PUT /v1/agent/join/:addr` for each address. */
export const joinCommand: Command = {
  name: "join",
  synopsis: "Tell Consul agent to join cluster",
  arguments: "[options] address ...",
  description: "Tells the agent to join the cluster through one or more of its members' gossip " +
    "addresses (host or host:port). Succeeds when at least one answered.",
  http: true,
  flags: {
    wan: { type: "boolean", description: "Join the WAN pool (servers only)." },
  },
  run: async (context, flags) => {
    const addresses = flags.positionals;
    if (addresses.length === 0) {
      context.err("At least one address to join must be specified.");
      return 1;
    }
    const client = await createHttpClient(context.runtime, flags);
    const query: Array<[string, string]> = flags.boolean("wan") ? [["wan", "1"]] : [];
    let joined = 0;
    for (const address of addresses) {
      try {
        await client.send("PUT", `/v1/agent/join/${escapePath(address)}`, { query });
        joined++;
      } catch (error) {
        context.err(`Error joining address '${address}': ${errorMessage(error)}`);
      }
    }
    if (joined === 0) {
      context.err("Failed to join any nodes.");
      return 1;
    }
    context.out(`Successfully joined cluster by contacting ${joined} nodes.`);
    return 0;
  },
};

/** `cairn force-leave`: `PUT /v1/agent/force-leave/:node`. */
export const forceLeaveCommand: Command = {
  name: "force-leave",
  synopsis: 'Forces a member of the cluster to enter the "left" state',
  arguments: "[options] name",
  description: 'Moves a failed member to the "left" state at once instead of waiting for it to ' +
    "be reaped; with -prune, erases it from the member list too.",
  http: true,
  flags: {
    prune: { type: "boolean", description: "Erase the member from the list at once." },
    wan: { type: "boolean", description: "Remove the member from the WAN pool." },
  },
  run: async (context, flags) => {
    if (flags.positionals.length !== 1) {
      context.err("A single node name must be specified to force leave.");
      return 1;
    }
    const [node] = flags.positionals;
    const query: Array<[string, string]> = [];
    if (flags.boolean("prune")) query.push(["prune", "1"]);
    if (flags.boolean("wan")) query.push(["wan", "1"]);
    const client = await createHttpClient(context.runtime, flags);
    try {
      await client.send("PUT", `/v1/agent/force-leave/${escapePath(node)}`, { query });
    } catch (error) {
      context.err(`Error force leaving: ${errorMessage(error)}`);
      return 1;
    }
    return 0;
  },
};

const firedSchema = z.object({ ID: z.string() });

/** `cairn event`: `PUT /v1/event/fire/:name` with the payload as the body. */
export const eventCommand: Command = {
  name: "event",
  synopsis: "Fire a new event",
  arguments: "[options] [payload]",
  description: "Fires a user event to the whole datacenter through gossip. -node, -service and " +
    "-tag are regular expressions that pick the agents that act on it.",
  http: true,
  flags: {
    name: { type: "string", placeholder: "<name>", description: "The event's name (required)." },
    node: { type: "string", placeholder: "<regexp>", description: "Only nodes matching this." },
    service: {
      type: "string",
      placeholder: "<regexp>",
      description: "Only nodes with a service matching this.",
    },
    tag: {
      type: "string",
      placeholder: "<regexp>",
      description: "Only nodes with a service tag matching this (needs -service).",
    },
  },
  run: runEvent,
};

async function runEvent(context: CommandContext, flags: Flags): Promise<number> {
  const name = flags.string("name") ?? "";
  const node = flags.string("node") ?? "";
  const service = flags.string("service") ?? "";
  const tag = flags.string("tag") ?? "";
  if (name === "") {
    context.err("Event name must be specified");
    return 1;
  }
  for (const [what, pattern] of [["node", node], ["service", service], ["tag", tag]]) {
    try {
      new RegExp(pattern);
    } catch (error) {
      context.err(`Failed to compile ${what} filter regexp: ${errorMessage(error)}`);
      return 1;
    }
  }
  if (tag !== "" && service === "") {
    context.err("Cannot provide tag filter without service filter.");
    return 1;
  }
  if (flags.positionals.length > 1) {
    context.err("Too many command line arguments.");
    return 1;
  }
  const payload = flags.positionals[0];
  const query: Array<[string, string]> = [];
  if (node !== "") query.push(["node", node]);
  if (service !== "") query.push(["service", service]);
  if (tag !== "") query.push(["tag", tag]);
  const client = await createHttpClient(context.runtime, flags);
  let id: string;
  try {
    const answer = await client.json("PUT", `/v1/event/fire/${escapePath(name)}`, {
      query,
      body: payload === undefined ? undefined : new TextEncoder().encode(payload),
    });
    id = firedSchema.parse(answer).ID;
  } catch (error) {
    context.err(`Error firing event: ${errorMessage(error)}`);
    return 1;
  }
  context.out(`Event ID: ${id}`);
  return 0;
}

/** `cairn keygen`: a new gossip key, 32 random bytes from the Runtime, base64. */
export const keygenCommand: Command = {
  name: "keygen",
  synopsis: "Generates a new encryption key",
  arguments: "",
  description: "Prints a new 32-byte gossip encryption key, base64, for -encrypt and keyring.",
  http: false,
  flags: {},
  // deno-lint-ignore require-await
  run: async (context, flags) => {
    if (flags.positionals.length > 0) {
      throw new FlagError(`Cannot use argument "${flags.positionals[0]}": keygen takes none`);
    }
    const key = context.runtime.randomBytes(new Uint8Array(keygenBytes));
    context.out(encodeBase64(key));
    return 0;
  },
};

const keyringSchema = z.array(z.object({
  WAN: z.boolean(),
  Datacenter: z.string(),
  Segment: z.string().nullable().optional(),
  Keys: z.record(z.string(), z.number()),
  NumNodes: z.number(),
}));

/** `cairn keyring`: lists or changes the gossip keyring through `/v1/operator/keyring`. */
export const keyringCommand: Command = {
  name: "keyring",
  synopsis: "Manages gossip layer encryption keys",
  arguments: "[options]",
  description: "Lists the gossip encryption keys installed in the cluster (-list), or installs " +
    "(-install), makes primary (-use) or removes (-remove) one on every member of the " +
    "cluster. Exactly one action is given. Rotate a key with -install, then -use, then -remove " +
    "of the old one; the primary key cannot be removed.",
  http: true,
  flags: {
    list: { type: "boolean", description: "List the installed keys." },
    install: { type: "string", placeholder: "<key>", description: "Install a new key." },
    use: { type: "string", placeholder: "<key>", description: "Make an installed key primary." },
    remove: { type: "string", placeholder: "<key>", description: "Remove an installed key." },
    "relay-factor": {
      type: "integer",
      placeholder: "<count>",
      min: 0,
      max: 5,
      description: "Members each answer is also relayed through, for lossy networks (0-5).",
    },
    "local-only": {
      type: "boolean",
      description: "With -list: this agent's own keys, without asking the cluster.",
    },
  },
  run: runKeyring,
};

async function runKeyring(context: CommandContext, flags: Flags): Promise<number> {
  if (flags.positionals.length > 0) {
    throw new FlagError(`Cannot use argument "${flags.positionals[0]}": keyring takes only flags`);
  }
  const list = flags.boolean("list");
  const changes = (["install", "use", "remove"] as const)
    .filter((name) => flags.string(name) !== undefined);
  const actions = changes.length + (list ? 1 : 0);
  if (actions > 1) {
    context.err("Only a single action is allowed");
    return 1;
  }
  if (actions === 0) {
    context.err("At least one action must be specified (-list, -install, -use or -remove)");
    return 1;
  }
  if (flags.boolean("local-only") && !list) {
    context.err("-local-only can only be used with -list");
    return 1;
  }
  const query: Array<[string, string]> = [];
  const relayFactor = flags.integer("relay-factor");
  if (relayFactor !== undefined && relayFactor > 0) query.push(["relay-factor", `${relayFactor}`]);
  if (flags.boolean("local-only")) query.push(["local-only", "1"]);
  const client = await createHttpClient(context.runtime, flags);
  if (list) {
    context.out("==> Gathering installed encryption keys...");
    let pools: z.infer<typeof keyringSchema>;
    try {
      pools = keyringSchema.parse(await client.json("GET", "/v1/operator/keyring", { query }));
    } catch (error) {
      context.err(`error: ${errorMessage(error)}`);
      return 1;
    }
    for (const pool of pools) {
      const segment = pool.Segment ? ` [${pool.Segment}]` : "";
      context.out("");
      context.out(pool.WAN ? "WAN:" : `${pool.Datacenter}${segment} (LAN):`);
      for (const [key, count] of Object.entries(pool.Keys)) {
        context.out(`  ${key} [${count}/${pool.NumNodes}]`);
      }
    }
    return 0;
  }
  const action = changes[0];
  const key = flags.string(action) ?? "";
  const [method, words] = action === "install"
    ? ["POST", "Installing new gossip encryption key..."]
    : action === "use"
    ? ["PUT", "Changing primary gossip encryption key..."]
    : ["DELETE", "Removing gossip encryption key..."];
  context.out(`==> ${words}`);
  try {
    await client.send(method, "/v1/operator/keyring", {
      body: JSON.stringify({ Key: key }),
      query,
    });
  } catch (error) {
    context.err(`error: ${errorMessage(error)}`);
    return 1;
  }
  return 0;
}
