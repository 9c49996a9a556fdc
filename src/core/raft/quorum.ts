/**
 * Majority arithmetic for a single configuration of voters (Raft §5.2, §5.3).
 *
 * @module
 */

/** Outcome of counting votes. */
export type VoteResult = "won" | "lost" | "pending";

/** The number of voters that make a majority of `voterCount`. */
export function majorityOf(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * Returns the largest value that a majority of `values` are at or above: for match indexes, the
 * highest index stored on a majority; for acked heartbeat rounds, the newest round a majority saw.
 *
 * @param values one value per voter
 * @returns the majority value, 0 when there are no voters
 */
export function majorityValue(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => b - a);
  return sorted[majorityOf(values.length) - 1];
}

/**
 * Counts votes among `voters`: won when a majority granted, lost when a majority can no longer
 * grant, pending otherwise.
 *
 * @param voters the configuration's voters
 * @param votes granted (true) or refused (false) per voter that answered
 */
export function voteResult(
  voters: readonly string[],
  votes: ReadonlyMap<string, boolean>,
): VoteResult {
  let granted = 0;
  let refused = 0;
  for (const voter of voters) {
    const vote = votes.get(voter);
    if (vote === true) granted += 1;
    if (vote === false) refused += 1;
  }
  const majority = majorityOf(voters.length);
  if (granted >= majority) return "won";
  if (voters.length - refused < majority) return "lost";
  return "pending";
}
