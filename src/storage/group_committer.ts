/**
 * Group commit for the write-ahead log: appends that arrive while an fsync is in flight wait and
 * go together in the next batch, so N concurrent proposals cost about 2 fsyncs, not N. A lone
 * append is written at once (no added latency). The queue is bounded in bytes and in callers.
 *
 * @example
 * ```ts ignore
 * const committer = new GroupCommitter(log);
 * await Promise.all(proposals.map((entry) => committer.append([entry])));
 * ```
 *
 * @module
 */

import type { HardState, LogEntry, WriteAheadLog } from "./wal.ts";

/** Bytes of entry data queued for the next batch before callers must wait: 16 MiB. */
export const PENDING_BYTES_MAX = 16 * 1024 * 1024;
/** Callers waiting for room in the queue before more are refused: 4,096. */
export const WAITING_CALLS_MAX = 4_096;

/** Tuning for {@link GroupCommitter}. */
export interface GroupCommitterOptions {
  /**
   * Entry data queued for the next fsync. Past it, `append` waits for room (back-pressure), so
   * a flood of proposals slows its callers instead of growing memory. A single call larger
   * than this is still taken when the queue is empty. @default {PENDING_BYTES_MAX}
   */
  pendingBytesMax?: number;
  /**
   * Callers waiting for room. Past it, `append` rejects at once: the caller is outrunning the
   * disk by far and should shed load. @default {WAITING_CALLS_MAX}
   */
  waitingCallsMax?: number;
}

/** Counters, for tests and metrics. */
export interface GroupCommitterStats {
  /** Calls to `append` accepted. */
  calls: number;
  /** Batches written, each with one fsync. */
  batches: number;
  /** Calls refused because `waitingCallsMax` callers were already waiting. */
  refused: number;
}

interface Pending {
  entries: readonly LogEntry[];
  hardState: HardState | undefined;
  bytes: number;
  resolve(): void;
  reject(error: unknown): void;
}

/** Coalesces concurrent `append` calls on one {@link WriteAheadLog} into shared fsyncs. */
export class GroupCommitter {
  readonly #log: WriteAheadLog;
  readonly #pendingBytesMax: number;
  readonly #waitingCallsMax: number;
  #queue: Pending[] = [];
  #queueBytes = 0;
  #waiting: (() => void)[] = [];
  #flushing = false;
  readonly #stats: GroupCommitterStats = { calls: 0, batches: 0, refused: 0 };

  /**
   * @param log the log to append to; use only this committer to append to it
   * @param options bounds
   */
  constructor(log: WriteAheadLog, options: GroupCommitterOptions = {}) {
    this.#log = log;
    this.#pendingBytesMax = options.pendingBytesMax ?? PENDING_BYTES_MAX;
    this.#waitingCallsMax = options.waitingCallsMax ?? WAITING_CALLS_MAX;
    for (const [name, value] of Object.entries(options)) {
      if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
        throw new RangeError(
          `Cannot use group committer options: ${name} must be a positive integer, not ${value}`,
        );
      }
    }
  }

  /** Counters so far (a copy). */
  get stats(): GroupCommitterStats {
    return { ...this.#stats };
  }

  /** Bytes of entry data queued for the next batch. */
  get pendingBytes(): number {
    return this.#queueBytes;
  }

  /**
   * Appends as {@link WriteAheadLog.append} does, sharing the fsync with concurrent calls.
   * Calls are applied in call order; a later call whose first index is at or below an earlier
   * one's entries replaces them from there, exactly as two separate appends would.
   *
   * @param entries consecutive entries, continuing the log or the calls queued before
   * @param hardState hard state to persist with them
   * @returns once the batch holding this call is durable
   */
  async append(entries: readonly LogEntry[], hardState?: HardState): Promise<void> {
    const bytes = entries.reduce((sum, entry) => sum + entry.data.byteLength, 0);
    while (this.#queue.length > 0 && this.#queueBytes + bytes > this.#pendingBytesMax) {
      if (this.#waiting.length >= this.#waitingCallsMax) {
        this.#stats.refused += 1;
        throw new Error(
          `Cannot append to the write-ahead log: ${this.#waiting.length} calls already wait ` +
            `for room behind ${this.#queueBytes} queued bytes; slow down proposals`,
        );
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#stats.calls += 1;
    const done = new Promise<void>((resolve, reject) => {
      this.#queue.push({ entries, hardState, bytes, resolve, reject });
    });
    this.#queueBytes += bytes;
    if (!this.#flushing) void this.#flush();
    return done;
  }

  /** Writes queued calls as one batch, again and again until the queue is empty. */
  async #flush(): Promise<void> {
    this.#flushing = true;
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      this.#queueBytes = 0;
      // Room freed: let waiting callers queue for the next batch while this one is written.
      for (const wake of this.#waiting.splice(0)) wake();
      const merged = mergeCalls(batch, this.#log.lastIndex);
      try {
        if (merged.accepted.length > 0) {
          await this.#log.append(merged.entries, merged.hardState);
          this.#stats.batches += 1;
        }
        for (const call of merged.accepted) call.resolve();
      } catch (error) {
        for (const call of merged.accepted) call.reject(error);
      }
    }
    this.#flushing = false;
  }
}

/**
 * Folds calls, in order, into one run of consecutive entries: a call starting at or below the
 * run's end replaces the run from there (as successive appends would). A call that would leave
 * a gap is rejected alone.
 */
function mergeCalls(
  calls: Pending[],
  lastIndex: number,
): { entries: LogEntry[]; hardState: HardState | undefined; accepted: Pending[] } {
  let entries: LogEntry[] = [];
  let hardState: HardState | undefined;
  const accepted: Pending[] = [];
  for (const call of calls) {
    if (call.entries.length > 0) {
      const first = call.entries[0].index;
      const runEnd = entries.length > 0 ? entries[entries.length - 1].index : lastIndex;
      if (first > runEnd + 1) {
        call.reject(
          new RangeError(
            `Cannot append entry ${first} to the write-ahead log: the entries before it end ` +
              `at index ${runEnd}`,
          ),
        );
        continue;
      }
      const keep = entries.length > 0 ? Math.max(0, first - entries[0].index) : 0;
      entries = entries.slice(0, keep).concat(call.entries);
    }
    if (call.hardState !== undefined) hardState = call.hardState;
    accepted.push(call);
  }
  return { entries, hardState, accepted };
}
