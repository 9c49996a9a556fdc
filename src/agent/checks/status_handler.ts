/**
 * Check statuses and the consecutive-result thresholds that damp flapping
 * (`SuccessBeforePassing`, `FailuresBeforeWarning`, `FailuresBeforeCritical`, Consul 1.7+).
 *
 * @module
 */

/** The status of one health check, as Consul's API spells it. */
export type CheckStatus = "passing" | "warning" | "critical";

/** The statuses a check may be set to, in Consul's order. */
export const CHECK_STATUSES: readonly CheckStatus[] = ["passing", "warning", "critical"];

/** Receives a check's new status and output. Called on every result, changed or not. */
export type CheckUpdate = (status: CheckStatus, output: string) => void;

/**
 * Tells whether `value` is one of {@link CHECK_STATUSES} (case-sensitive, as Consul's
 * `structs.ValidStatus`).
 *
 * @param value anything
 * @returns true for "passing", "warning" or "critical"
 */
export function isCheckStatus(value: unknown): value is CheckStatus {
  return value === "passing" || value === "warning" || value === "critical";
}

/** Thresholds of consecutive results before a status is reported. 0 means "at once". */
export interface StatusThresholds {
  /** Successes in a row before "passing" (or "warning") is reported. @default {0} */
  successBeforePassing?: number;
  /** Failures in a row before "warning" is reported. @default {failuresBeforeCritical} */
  failuresBeforeWarning?: number;
  /** Failures in a row before "critical" is reported. @default {0} */
  failuresBeforeCritical?: number;
}

/**
 * Filters a check's raw results through consecutive-count thresholds before passing them on, as
 * Consul's `checks.StatusHandler`. "warning" counts as a success, as in Consul. Both counters
 * start at their thresholds, so the very first result is reported at once; only a change of
 * direction has to be confirmed by repeated results.
 *
 * @example
 * ```ts
 * import { StatusHandler } from "./status_handler.ts";
 * const reported: string[] = [];
 * const handler = new StatusHandler((status) => reported.push(status), {
 *   failuresBeforeCritical: 3,
 * });
 * handler.report("passing", "ok"); // reported: passing
 * handler.report("critical", "down"); // held back (1 of 3)
 * ```
 */
export class StatusHandler {
  readonly #update: CheckUpdate;
  readonly #successBeforePassing: number;
  readonly #failuresBeforeWarning: number;
  readonly #failuresBeforeCritical: number;
  #successCount: number;
  #failureCount: number;

  /**
   * @param update receives the results that pass the thresholds
   * @param thresholds counts of consecutive results; missing ones are 0
   */
  constructor(update: CheckUpdate, thresholds: StatusThresholds = {}) {
    this.#update = update;
    this.#successBeforePassing = thresholds.successBeforePassing ?? 0;
    this.#failuresBeforeCritical = thresholds.failuresBeforeCritical ?? 0;
    // Consul's agent defaults FailuresBeforeWarning to FailuresBeforeCritical (agent.go addCheck).
    this.#failuresBeforeWarning = thresholds.failuresBeforeWarning || this.#failuresBeforeCritical;
    this.#successCount = this.#successBeforePassing;
    this.#failureCount = this.#failuresBeforeCritical;
  }

  /**
   * Counts one raw result and reports it (or "warning" for a failure that has reached only the
   * warning threshold) once its threshold is met.
   *
   * @param status the raw result
   * @param output the result's output, reported with it
   */
  report(status: CheckStatus, output: string): void {
    if (status === "passing" || status === "warning") {
      // Counts saturate one past their threshold: only ">=" is ever asked of them.
      this.#successCount = Math.min(this.#successCount + 1, this.#successBeforePassing + 1);
      this.#failureCount = 0;
      if (this.#successCount >= this.#successBeforePassing) this.#update(status, output);
      return;
    }
    this.#failureCount = Math.min(this.#failureCount + 1, this.#failuresBeforeCritical + 1);
    this.#successCount = 0;
    if (this.#failureCount >= this.#failuresBeforeCritical) {
      this.#update("critical", output);
    } else if (this.#failureCount >= this.#failuresBeforeWarning) {
      this.#update("warning", output);
    }
  }
}
