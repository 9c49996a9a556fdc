/**
 * `cairn leave`: asks the agent to leave the cluster gracefully and shut down
 * (`PUT /v1/agent/leave`), as Consul's `command/leave`.
 *
 * @module
 */

import { type Command, errorMessage } from "./command.ts";
import { FlagError } from "./flags.ts";
import { createHttpClient } from "./http_client.ts";

/** `cairn leave`. */
export const leaveCommand: Command = {
  name: "leave",
  synopsis: "Gracefully leaves the cluster and shuts down",
  arguments: "[options]",
  description: "Makes the agent leave the cluster gracefully and shut down. The other members " +
    'see it as "left" rather than "failed", and a server leaves the Raft peers.',
  http: true,
  flags: {},
  run: async (context, flags) => {
    if (flags.positionals.length > 0) {
      throw new FlagError(`Cannot use argument "${flags.positionals[0]}": leave takes only flags`);
    }
    const client = await createHttpClient(context.runtime, flags);
    try {
      await client.send("PUT", "/v1/agent/leave");
    } catch (error) {
      context.err(`Error leaving: ${errorMessage(error)}`);
      return 1;
    }
    context.out("Graceful leave complete");
    return 0;
  },
};
