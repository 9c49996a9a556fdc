/**
 * `cairn rtt`: the estimated round-trip time between two nodes from their network coordinates,
 * as Consul's `command/rtt` prints it (LAN coordinates from `/v1/coordinate/nodes`).
 *
 * @module
 */

import { z } from "zod";
import { type Coordinate, distanceSeconds } from "../core/vivaldi/mod.ts";
import { type Command, type CommandContext, errorMessage } from "./command.ts";
import { FlagError, type Flags } from "./flags.ts";
import { createHttpClient } from "./http_client.ts";

const coordinateSchema = z.object({
  Node: z.string(),
  Coord: z.object({
    Vec: z.array(z.number()),
    Error: z.number(),
    Adjustment: z.number(),
    Height: z.number(),
  }),
});

const selfSchema = z.object({ Config: z.object({ NodeName: z.string() }) });

/** `cairn rtt node1 [node2]`. */
export const rttCommand: Command = {
  name: "rtt",
  synopsis: "Estimates network round trip time between nodes",
  arguments: "[options] node1 [node2]",
  description: "Estimates the round trip time between two nodes from their network " +
    "coordinates. With one node, the other is the agent's own node.",
  http: true,
  flags: {},
  run: runRtt,
};

async function runRtt(context: CommandContext, flags: Flags): Promise<number> {
  const nodes = flags.positionals;
  if (nodes.length < 1 || nodes.length > 2) {
    throw new FlagError("Cannot estimate rtt: give one or two node names");
  }
  const client = await createHttpClient(context.runtime, flags);
  let coordinates: Map<string, Coordinate>;
  let pair: [string, string];
  try {
    if (nodes.length === 1) {
      const self = selfSchema.parse(await client.json("GET", "/v1/agent/self"));
      pair = [nodes[0], self.Config.NodeName];
    } else {
      pair = [nodes[0], nodes[1]];
    }
    const listed = z.array(coordinateSchema).nullable().parse(
      await client.json("GET", "/v1/coordinate/nodes"),
    ) ?? [];
    coordinates = new Map(listed.map(({ Node, Coord }) => [Node, {
      vec: Coord.Vec,
      error: Coord.Error,
      adjustment: Coord.Adjustment,
      height: Coord.Height,
    }]));
  } catch (error) {
    context.err(`Error getting coordinates: ${errorMessage(error)}`);
    return 1;
  }
  const [a, b] = pair.map((name) => coordinates.get(name));
  for (const [i, coordinate] of [a, b].entries()) {
    if (coordinate === undefined) {
      context.err(`Could not find a coordinate for node "${pair[i]}"`);
      return 1;
    }
  }
  if (a!.vec.length !== b!.vec.length) {
    context.err("Cannot estimate rtt: the coordinates have different dimensions");
    return 1;
  }
  const rttMs = distanceSeconds(a!, b!) * 1_000;
  context.out(
    `Estimated ${pair[0]} <-> ${pair[1]} rtt: ${rttMs.toFixed(3)} ms (using LAN coordinates)`,
  );
  return 0;
}
