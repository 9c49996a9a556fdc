/**
 * A log line per kind of problem at most once per interval, with the count of lines held back,
 * so a peer flooding bad packets cannot flood the log. Private to `src/agent/gossip`.
 *
 * @module
 */

/** Kinds of problem tracked at once; past it new kinds share one bucket. */
export const rateLimitedKindsMax = 64;

/** Writes at most one line per kind every `intervalMs`. */
export class RateLimitedLog {
  readonly #write: (line: string) => void;
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #kinds = new Map<string, { lastAtMs: number; suppressed: number }>();

  /**
   * @param write where lines go (a logger's `warn`)
   * @param now a monotonic clock in milliseconds
   * @param intervalMs the least time between two lines of one kind
   */
  constructor(write: (line: string) => void, now: () => number, intervalMs: number) {
    this.#write = write;
    this.#now = now;
    this.#intervalMs = intervalMs;
  }

  /** Logs `message` unless a line of `kind` went out less than the interval ago. */
  log(kind: string, message: string): void {
    const key = this.#kinds.has(kind) || this.#kinds.size < rateLimitedKindsMax ? kind : "other";
    const nowMs = this.#now();
    const state = this.#kinds.get(key);
    if (state !== undefined && nowMs - state.lastAtMs < this.#intervalMs) {
      state.suppressed += 1;
      return;
    }
    const held = state === undefined || state.suppressed === 0
      ? ""
      : ` (${state.suppressed} more like it since the last report)`;
    this.#kinds.set(key, { lastAtMs: nowMs, suppressed: 0 });
    this.#write(`${message}${held}`);
  }
}
