/**
 * `cairn operator raft list-peers|remove-peer`: the Raft configuration over
 * `/v1/operator/raft/*`, with the table and messages of Consul's `command/operator/raft/*`.
 *
 * @module
 */

import { z } from "zod";
import { type Command, errorMessage } from "./command.ts";
import { FlagError } from "./flags.ts";
import { createHttpClient } from "./http_client.ts";
import { columnize } from "./table.ts";

const configurationSchema = z.object({
  Servers: z.array(z.object({
    ID: z.string(),
    Node: z.string(),
    Address: z.string(),
    Leader: z.boolean(),
    Voter: z.boolean(),
    ProtocolVersion: z.string().optional(),
  })).nullable(),
  Index: z.number(),
});

/** `cairn operator raft list-peers`. */
export const operatorRaftListPeersCommand: Command = {
  name: "operator raft list-peers",
  synopsis: "Display the current Raft peer configuration",
  arguments: "[options]",
  description: "Prints the servers of the Raft configuration: node, ID, address, state " +
    "(leader or follower), whether it votes, and its Raft protocol. -stale lets any server " +
    "answer, which helps when the cluster has no leader.",
  http: true,
  flags: {},
  run: async (context, flags) => {
    if (flags.positionals.length > 0) {
      throw new FlagError("Cannot use the arguments: list-peers takes none");
    }
    const client = await createHttpClient(context.runtime, flags);
    try {
      const answer = configurationSchema.parse(
        await client.json("GET", "/v1/operator/raft/configuration"),
      );
      const lines = ["Node\x1fID\x1fAddress\x1fState\x1fVoter\x1fRaftProtocol"];
      for (const server of answer.Servers ?? []) {
        const state = server.Leader ? "leader" : "follower";
        const protocol = server.ProtocolVersion ?? "<=1";
        lines.push(
          [server.Node, server.ID, server.Address, state, String(server.Voter), protocol]
            .join("\x1f"),
        );
      }
      context.out(columnize(lines, "\x1f"));
      return 0;
    } catch (error) {
      context.err(`Error getting peers: ${errorMessage(error)}`);
      return 1;
    }
  },
};

/** `cairn operator raft remove-peer`. */
export const operatorRaftRemovePeerCommand: Command = {
  name: "operator raft remove-peer",
  synopsis: "Remove a Consul server from the Raft configuration",
  arguments: "[options]",
  description: "Removes the server with -id (or at -address, IP:port) from the Raft " +
    "configuration, for a server that failed and will not come back.",
  http: true,
  flags: {
    id: { type: "string", placeholder: "<id>", description: "The ID of the server to remove." },
    address: {
      type: "string",
      placeholder: "<IP:port>",
      description: "The Raft address of the server to remove.",
    },
  },
  run: async (context, flags) => {
    const id = flags.string("id") ?? "";
    const address = flags.string("address") ?? "";
    if ((id === "") === (address === "")) {
      throw new FlagError(
        "Cannot remove a peer: give exactly one of -id or -address (IP:port of the peer)",
      );
    }
    const client = await createHttpClient(context.runtime, flags);
    try {
      await client.send("DELETE", "/v1/operator/raft/peer", {
        query: [id === "" ? ["address", address] : ["id", id]],
      });
    } catch (error) {
      context.err(`Error removing peer: ${errorMessage(error)}`);
      return 1;
    }
    context.out(
      id === "" ? `Removed peer with address "${address}"` : `Removed peer with id "${id}"`,
    );
    return 0;
  },
};
