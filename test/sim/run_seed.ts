// Goal: one complete simulation run for one seed, shared by the test and the seed runner.
// Method: build a seeded cluster, run a fault phase with clients, heal and demand convergence,
// then check the client history for linearizability (writes with `consistent` reads, and
// separately with `default` lease reads). Throws with `seed=N` on any violation.

import { checkLinearizable } from "./linearizability.ts";
import { SimCluster, SimViolation } from "./sim_cluster.ts";

/** Virtual time of the fault phase and the convergence budget. */
export const FAULT_PHASE_MS = 3_000;
export const CONVERGE_BUDGET_MS = 5_000;

/** Counts from one run, for the runner's summary. */
export interface SeedReport {
  seed: number;
  steps: number;
  operations: number;
  acknowledgedWrites: number;
  consistentReads: number;
  defaultReads: number;
}

/**
 * Runs seed `seed` end to end; throws `SimViolation` (message starts with `seed=N`) on failure.
 *
 * @param seed the seed
 * @param faultPhaseMs virtual duration of the fault phase
 */
export function runSeed(seed: number, faultPhaseMs = FAULT_PHASE_MS): SeedReport {
  const cluster = SimCluster.create({ seed });
  try {
    cluster.runForMs(faultPhaseMs);
    if (!cluster.healAndConverge(CONVERGE_BUDGET_MS)) {
      throw new SimViolation(
        `Liveness: no convergence within ${CONVERGE_BUDGET_MS}ms after healing`,
      );
    }
    const strict = checkLinearizable(cluster.operations(["write", "consistent"]));
    if (!strict.ok) {
      throw new SimViolation(
        `Linearizability (writes + consistent reads) fails on key "${strict.key}":\n    ` +
          strict.history.join("\n    "),
      );
    }
    const lease = checkLinearizable(cluster.operations(["write", "consistent", "default"]));
    if (!lease.ok) {
      throw new SimViolation(
        `Linearizability (with default lease reads) fails on key "${lease.key}":\n    ` +
          lease.history.join("\n    "),
      );
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const violation = new SimViolation(`seed=${seed} ${message}\n  ${cluster.describe()}`);
    violation.cause = error;
    throw violation;
  }
  const ok = cluster.history.filter((op) => op.status === "ok");
  return {
    seed,
    steps: cluster.stepCount,
    operations: cluster.history.length,
    acknowledgedWrites: ok.filter((op) => op.mode === "write").length,
    consistentReads: ok.filter((op) => op.mode === "consistent").length,
    defaultReads: ok.filter((op) => op.mode === "default").length,
  };
}
