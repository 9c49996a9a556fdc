/**
 * Blocking queries (`?index=N&wait=D`, Consul's `agent/consul/rpc.go` blockingQuery): answer at
 * once when the data's index is past N, otherwise wait for a watched change or the wait time
 * (default 5 min, at most 10 min, plus up to wait/16 of jitter so watchers do not return in
 * lockstep). An answer whose index did not move is still a 200 with the same data.
 *
 * @module
 */

import type { QueryResult } from "../core/state/state_store.ts";
import type { WatchHub } from "../core/state/watches.ts";
import type { Clock, Timers } from "../runtime.ts";
import type { QueryOptions } from "./query_options.ts";

/** Limits of blocking queries. Durations are milliseconds. */
export interface BlockingConfig {
  /** @default {300_000} Consul's default_query_time */
  waitDefaultMs: number;
  /** @default {600_000} Consul's max_query_time */
  waitMaxMs: number;
  /** Blocked queries held at once; past it, queries answer at once. @default {50_000} */
  blockedMax: number;
}

/** Consul's defaults. */
export function defaultBlockingConfig(): BlockingConfig {
  return { waitDefaultMs: 300_000, waitMaxMs: 600_000, blockedMax: 50_000 };
}

/** What a blocking query needs from its surroundings. */
export interface BlockingContext {
  watches: WatchHub;
  timers: Timers;
  clock: Clock;
  /** Queries blocked now, shared by every request of one agent. */
  gauge: { blocked: number };
  /** A uniform random number in [0, 1), for jitter. */
  random: () => number;
  config: BlockingConfig;
  /** Aborts the wait when the client goes away. */
  signal?: AbortSignal;
}

/** The wait parameters of a request: `minIndex` undefined means "do not block". */
export interface BlockingParams {
  minIndex: number | undefined;
  waitMs: number;
}

/** Reads `index` and `wait`, with Consul's error messages. */
export function blockingParams(query: QueryOptions, config: BlockingConfig): BlockingParams {
  const minIndex = query.integer("index", "index");
  const parsedMs = query.duration("wait", "Invalid wait time");
  // A wait of zero or less means the default, as in Consul's blockingQuery (agent/consul/rpc.go).
  const waitMs = parsedMs === undefined || parsedMs <= 0 ? config.waitDefaultMs : parsedMs;
  return { minIndex, waitMs: Math.min(waitMs, config.waitMaxMs) };
}

/** Runs `run` until its index passes `params.minIndex` or the wait ends. */
export async function blockingQuery<T>(
  context: BlockingContext,
  params: BlockingParams,
  run: () => QueryResult<T>,
): Promise<QueryResult<T>> {
  let result = run();
  const minIndex = params.minIndex;
  if (minIndex === undefined || minIndex === 0 || result.index > minIndex) return result;
  if (context.gauge.blocked >= context.config.blockedMax) return result;
  const jitterMs = context.random() * (params.waitMs / 16);
  let remainingMs = params.waitMs + jitterMs;
  context.gauge.blocked += 1;
  try {
    while (result.index <= minIndex && remainingMs > 0 && context.signal?.aborted !== true) {
      const startedMs = context.clock.monotonicMs();
      await waitForChange(context, result, remainingMs);
      remainingMs -= context.clock.monotonicMs() - startedMs;
      result = run();
    }
  } finally {
    context.gauge.blocked -= 1;
  }
  return result;
}

function waitForChange<T>(
  context: BlockingContext,
  result: QueryResult<T>,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve) => {
    const finish = () => {
      handle.cancel();
      timer.cancel();
      context.signal?.removeEventListener("abort", finish);
      resolve();
    };
    const handle = context.watches.watch(result.topics, result.prefixes, finish);
    const timer = context.timers.after(timeoutMs, finish);
    context.signal?.addEventListener("abort", finish);
  });
}
