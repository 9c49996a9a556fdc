// Helpers for the check tests in this folder: a recorder of status updates that can be awaited,
// and a deadline-bounded wait. Private to test/agent/checks.
import type { CheckStatus, CheckUpdate } from "../../../src/agent/checks/status_handler.ts";

/** One update a check reported. */
export interface RecordedUpdate {
  status: CheckStatus;
  output: string;
  /** `performance.now()` when it arrived. */
  atMs: number;
}

/** Collects a check's updates; `next()` waits for the next one. */
export class UpdateRecorder {
  readonly updates: RecordedUpdate[] = [];
  #waiters: Array<() => void> = [];

  /** The callback to hand the check. */
  readonly update: CheckUpdate = (status, output) => {
    this.updates.push({ status, output, atMs: performance.now() });
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  };

  /** Resolves with the `count`-th update (1-based), waiting at most `timeoutMs`. */
  async nth(count: number, timeoutMs = 5_000): Promise<RecordedUpdate> {
    const deadline = performance.now() + timeoutMs;
    while (this.updates.length < count) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        throw new Error(
          `Cannot get update ${count}: only ${this.updates.length} arrived in ${timeoutMs} ms`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.updates[count - 1];
  }

  /** The statuses reported so far, in order. */
  statuses(): CheckStatus[] {
    return this.updates.map((update) => update.status);
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
