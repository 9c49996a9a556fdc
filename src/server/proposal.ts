/**
 * What the HTTP layer and the agent hand a server to write: a state-store command before the
 * server stamps it with the proposer's wall time, and the failures a proposal can end in.
 *
 * @module
 */

import type { ApplyResult, Command } from "../core/state/commands.ts";

/** A command before the server stamps it with the time. */
export type Proposal = Command extends infer C ? C extends Command ? Omit<C, "atMs"> : never
  : never;

/** The answer to a write that found no leader, or lost it before its entry was applied. */
export function noLeaderResult(): ApplyResult {
  // Consul answers 500 "No cluster leader" when a write cannot reach a leader.
  return { ok: false, error: "No cluster leader", status: 500 };
}
