/**
 * The blocking-query loop behind every watch, as Consul's `api/watch` runs it: query with the
 * last `X-Consul-Index`, call back when the answer changed, reset to 0 when the index goes
 * backwards, back off on errors, end on cancel or when the client's lifetime ends.
 *
 * @module
 */

import type { Watch } from "./cairn_client.ts";

/** What one watch needs. */
export interface WatchLoop<T> {
  /** Runs the query, blocking while `index > 0` and nothing changed past it. */
  query(index: number, signal: AbortSignal): Promise<{ index: number; value: T }>;
  /** Receives each changed answer; awaited before the next query. */
  callback(value: T): void | Promise<void>;
  /** Receives failed queries and callback errors; the watch goes on. */
  onError: ((error: unknown) => void) | undefined;
  /** Resolves after a delay, or at once when the signal aborts; must not keep a program alive. */
  sleep(delayMs: number, signal: AbortSignal): Promise<void>;
  /** Ends the watch when aborted (the agent stopped, the client closed). */
  lifetime: AbortSignal;
}

/** First wait after a failed query; it doubles on each further failure. */
export const WATCH_RETRY_MS = 100;
/** Longest wait between failed queries. */
export const WATCH_RETRY_MAX_MS = 30_000;
/** Least time between two queries whose index did not move, so a non-blocking agent cannot spin. */
export const WATCH_QUIET_MS = 50;

/**
 * Starts a watch loop.
 *
 * @param loop the query, the callback and the lifetime
 * @returns the running watch
 */
export function startWatch<T>(loop: WatchLoop<T>): Watch {
  const controller = new AbortController();
  const signal = AbortSignal.any([controller.signal, loop.lifetime]);
  const done = runWatch(loop, signal);
  return {
    cancel: () => controller.abort(),
    done,
  };
}

async function runWatch<T>(loop: WatchLoop<T>, signal: AbortSignal): Promise<void> {
  let index = 0;
  let lastFingerprint: string | undefined;
  let failures = 0;
  const report = (error: unknown) => {
    try {
      loop.onError?.(error);
    } catch {
      // An error handler that throws must not end the watch.
    }
  };
  while (!signal.aborted) {
    let answer: { index: number; value: T };
    try {
      answer = await loop.query(index, signal);
    } catch (error) {
      if (signal.aborted) break;
      report(error);
      failures += 1;
      const delayMs = Math.min(WATCH_RETRY_MS * 2 ** (failures - 1), WATCH_RETRY_MAX_MS);
      await loop.sleep(delayMs, signal);
      continue;
    }
    failures = 0;
    if (signal.aborted) break;
    const previousIndex = index;
    // Consul's rule (api/watch/plan.go): an index that goes backwards means the data was reset,
    // so start over from 0; never block on 0.
    index = answer.index < index ? 0 : answer.index;
    const fingerprint = fingerprintOf(answer.value);
    if (fingerprint !== lastFingerprint) {
      lastFingerprint = fingerprint;
      try {
        await loop.callback(answer.value);
      } catch (error) {
        report(error);
      }
    } else if (answer.index === previousIndex) {
      await loop.sleep(WATCH_QUIET_MS, signal);
    }
  }
}

// Indexes move for unrelated writes to the same table; callbacks fire only when the answer did.
function fingerprintOf(value: unknown): string {
  return JSON.stringify(value, (_key, item) => {
    if (typeof item === "bigint") return item.toString();
    if (item instanceof Uint8Array) return Array.from(item);
    return item;
  });
}
