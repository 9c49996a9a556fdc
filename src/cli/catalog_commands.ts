/**
 * `cairn catalog datacenters|nodes|services`: the catalog over the HTTP API, printed as Consul's
 * `command/catalog/*` prints it.
 *
 * @module
 */

import { z } from "zod";
import { type Command, type CommandContext, errorMessage } from "./command.ts";
import { FlagError, type Flags, type FlagSpec } from "./flags.ts";
import { createHttpClient, escapePath } from "./http_client.ts";
import { columnize, tabulate } from "./table.ts";

const stringMapSchema = z.record(z.string(), z.string()).nullable().optional();

const nodeSchema = z.object({
  ID: z.string().optional(),
  Node: z.string(),
  Address: z.string().optional(),
  Datacenter: z.string().optional(),
  TaggedAddresses: stringMapSchema,
  Meta: stringMapSchema,
});

/** A catalog node, as `/v1/catalog/nodes` returns it (the fields the CLI prints). */
export type CatalogNode = z.infer<typeof nodeSchema>;

const catalogServiceSchema = z.object({
  ID: z.string().optional(),
  Node: z.string(),
  Address: z.string().optional(),
  Datacenter: z.string().optional(),
  TaggedAddresses: stringMapSchema,
  NodeMeta: stringMapSchema,
});

const nodeServicesSchema = z.object({
  Services: z.record(
    z.string(),
    z.object({ Service: z.string(), Tags: z.array(z.string()).nullable().optional() }),
  ).nullable().optional(),
}).nullable();

const nodeMetaFlag: FlagSpec = {
  type: "string",
  multiple: true,
  placeholder: "<key=value>",
  description: "Only nodes with this metadata pair. Repeatable (all must match).",
};

/** `cairn catalog datacenters`. */
export const catalogDatacentersCommand: Command = {
  name: "catalog datacenters",
  synopsis: "Lists all known datacenters",
  arguments: "[options]",
  description: "Prints the datacenters the agent knows, nearest first.",
  http: true,
  flags: {},
  run: async (context, flags) => {
    noArguments(flags);
    const client = await createHttpClient(context.runtime, flags);
    let datacenters: string[];
    try {
      datacenters = z.array(z.string()).parse(await client.json("GET", "/v1/catalog/datacenters"));
    } catch (error) {
      context.err(`Error listing datacenters: ${errorMessage(error)}`);
      return 1;
    }
    if (datacenters.length === 0) {
      context.err("No datacenters found");
      return 1;
    }
    for (const datacenter of datacenters) context.out(datacenter);
    return 0;
  },
};

/** `cairn catalog nodes`. */
export const catalogNodesCommand: Command = {
  name: "catalog nodes",
  synopsis: "Lists all nodes in the given datacenter",
  arguments: "[options]",
  description: "Prints the nodes of the catalog: name, ID (its first part unless -detailed), " +
    "address and datacenter.",
  http: true,
  flags: {
    detailed: {
      type: "boolean",
      description: "Print the whole ID, tagged addresses and metadata too.",
    },
    service: {
      type: "string",
      placeholder: "<id or name>",
      description: "Only nodes that run this service.",
    },
    near: {
      type: "string",
      placeholder: "<node name>",
      description: "Sort by round-trip time from this node (_agent: the agent's node).",
    },
    "node-meta": nodeMetaFlag,
    filter: {
      type: "string",
      placeholder: "<expression>",
      description: "A filter expression, as the HTTP API's ?filter.",
    },
  },
  run: runCatalogNodes,
};

async function runCatalogNodes(context: CommandContext, flags: Flags): Promise<number> {
  noArguments(flags);
  const query = nodeQuery(flags);
  const near = flags.string("near");
  if (near !== undefined) query.push(["near", near]);
  const filter = flags.string("filter");
  if (filter !== undefined) query.push(["filter", filter]);
  const client = await createHttpClient(context.runtime, flags);
  const service = flags.string("service");
  let nodes: CatalogNode[];
  try {
    if (service !== undefined) {
      const path = `/v1/catalog/service/${escapePath(service)}`;
      const entries = z.array(catalogServiceSchema).nullable().parse(
        await client.json("GET", path, { query }),
      ) ?? [];
      nodes = entries.map((entry) => ({ ...entry, Meta: entry.NodeMeta }));
    } else {
      nodes = z.array(nodeSchema).nullable().parse(
        await client.json("GET", "/v1/catalog/nodes", { query }),
      ) ?? [];
    }
  } catch (error) {
    const what = service === undefined ? "nodes" : "nodes for service";
    context.err(`Error listing ${what}: ${errorMessage(error)}`);
    return 1;
  }
  if (nodes.length === 0) {
    context.err("No nodes match the given query - try expanding your search.");
    return 0;
  }
  context.out(formatNodes(nodes, flags.boolean("detailed")));
  return 0;
}

/**
 * Renders nodes as `catalog nodes` does (Consul's `printNodes`).
 *
 * @param nodes the nodes, in the agent's order
 * @param detailed print full IDs, tagged addresses and metadata
 * @returns the table, no final newline
 */
export function formatNodes(nodes: CatalogNode[], detailed: boolean): string {
  const lines = [detailed ? "Node|ID|Address|DC|TaggedAddresses|Meta" : "Node|ID|Address|DC"];
  for (const node of nodes) {
    const id = node.ID ?? "";
    const cells = [node.Node, id, node.Address ?? "", node.Datacenter ?? ""];
    if (detailed) cells.push(formatMap(node.TaggedAddresses), formatMap(node.Meta));
    // Shorten the ID to its first group when not detailed.
    else if (id.indexOf("-") > 0) cells[1] = id.slice(0, id.indexOf("-"));
    lines.push(cells.join("|"));
  }
  return columnize(lines, "|");
}

/** `cairn catalog services`. */
export const catalogServicesCommand: Command = {
  name: "catalog services",
  synopsis: "Lists all registered services in a datacenter",
  arguments: "[options]",
  description: "Prints the names of the services in the catalog, sorted; with -node, only " +
    "those on that node.",
  http: true,
  flags: {
    tags: { type: "boolean", description: "Print each service's tags too." },
    node: {
      type: "string",
      placeholder: "<id or name>",
      description: "Only services on this node.",
    },
    "node-meta": nodeMetaFlag,
  },
  run: runCatalogServices,
};

async function runCatalogServices(context: CommandContext, flags: Flags): Promise<number> {
  noArguments(flags);
  const query = nodeQuery(flags);
  const client = await createHttpClient(context.runtime, flags);
  const node = flags.string("node");
  const services = new Map<string, string[]>();
  try {
    if (node !== undefined) {
      const path = `/v1/catalog/node/${escapePath(node)}`;
      const found = nodeServicesSchema.parse(await client.json("GET", path, { query }));
      for (const service of Object.values(found?.Services ?? {})) {
        const tags = services.get(service.Service) ?? [];
        services.set(service.Service, [...tags, ...(service.Tags ?? [])]);
      }
    } else {
      const listed = z.record(z.string(), z.array(z.string()).nullable()).parse(
        await client.json("GET", "/v1/catalog/services", { query }),
      );
      for (const [name, tags] of Object.entries(listed)) services.set(name, tags ?? []);
    }
  } catch (error) {
    const what = node === undefined ? "services" : "services for node";
    context.err(`Error listing ${what}: ${errorMessage(error)}`);
    return 1;
  }
  if (services.size === 0) {
    context.err("No services match the given query - try expanding your search.");
    return 0;
  }
  const names = [...services.keys()].sort(compareStrings);
  if (flags.boolean("tags")) {
    const rows = names.map((
      name,
    ) => [name, [...services.get(name)!].sort(compareStrings).join(",")]);
    context.out(tabulate(rows).trim());
  } else {
    for (const name of names) context.out(name);
  }
  return 0;
}

function nodeQuery(flags: Flags): Array<[string, string]> {
  return flags.strings("node-meta").map((pair) => {
    // Consul's FlagMapValue: key=value, sent to the API as node-meta=key:value.
    const equals = pair.indexOf("=");
    if (equals === -1) {
      throw new FlagError(`Cannot parse flags: -node-meta "${pair}" is not key=value`);
    }
    return ["node-meta", `${pair.slice(0, equals)}:${pair.slice(equals + 1)}`];
  });
}

function noArguments(flags: Flags): void {
  if (flags.positionals.length > 0) {
    throw new FlagError(
      `Cannot use argument "${flags.positionals[0]}": this command takes only flags`,
    );
  }
}

// Consul's mapToKV: key=value pairs sorted by key, joined with ", ".
function formatMap(map: Record<string, string> | null | undefined): string {
  return Object.keys(map ?? {}).sort(compareStrings).map((key) => `${key}=${map![key]}`).join(
    ", ",
  );
}

// Go's sort.Strings compares bytes; for the ASCII names here that is code-unit order.
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
