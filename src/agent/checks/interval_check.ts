/**
 * The schedule shared by the checks that poll (HTTP, TCP, script): a first run after a random
 * stagger in [0, interval), then one run `interval` after each run ends, so runs never overlap
 * (Consul's `lib.RandomStagger` and the `run()` loop of each check in `agent/checks/check.go`).
 * Results pass through a {@link StatusHandler} for the success/failure thresholds.
 *
 * @module
 */

import type { Runtime, TimerHandle } from "../../runtime.ts";
import { afterLong } from "./_timers.ts";
import { errorMessage } from "./_output.ts";
import {
  type CheckStatus,
  type CheckUpdate,
  StatusHandler,
  type StatusThresholds,
} from "./status_handler.ts";

/** What one run of a check found. */
export interface CheckResult {
  status: CheckStatus;
  output: string;
}

/** Options of every polling check. Durations are milliseconds. */
export interface IntervalCheckOptions extends StatusThresholds {
  /** Time from the end of one run to the start of the next; any value > 0 (the parser clamps). */
  intervalMs: number;
  /** Delay of the first run. @default {a random value in [0, intervalMs)} */
  firstRunDelayMs?: number;
}

/**
 * A check that runs `probe()` on an interval and reports each result to `update` (through the
 * thresholds). Subclasses supply the probe; {@link IntervalCheck.stop} cancels the next run and
 * discards the result of one in flight (whose `signal` is aborted).
 */
export abstract class IntervalCheck {
  /** Which kind of check this is. */
  abstract readonly type: "http" | "tcp" | "script";
  readonly #runtime: Runtime;
  readonly #handler: StatusHandler;
  readonly #intervalMs: number;
  readonly #firstRunDelayMs: number | undefined;
  #state: "new" | "started" | "stopped" = "new";
  #timer: TimerHandle | undefined;
  #inFlight: AbortController | undefined;
  #runCount = 0;

  /**
   * @param runtime timers and random bytes (and what the probe needs)
   * @param update receives results that pass the thresholds
   * @param options the interval, first delay and thresholds
   */
  constructor(runtime: Runtime, update: CheckUpdate, options: IntervalCheckOptions) {
    if (!(options.intervalMs > 0) || !Number.isFinite(options.intervalMs)) {
      throw new RangeError(
        `Cannot create check: intervalMs must be a finite number > 0, got ${options.intervalMs}`,
      );
    }
    this.#runtime = runtime;
    this.#handler = new StatusHandler(update, options);
    this.#intervalMs = options.intervalMs;
    this.#firstRunDelayMs = options.firstRunDelayMs;
  }

  /** Runs the check once, resolving to its raw result; must not throw (a throw is critical). */
  protected abstract probe(signal: AbortSignal): Promise<CheckResult>;

  /** The runtime this check was created with, for subclasses' probes. */
  protected get runtime(): Runtime {
    return this.#runtime;
  }

  /** How many runs have completed and been reported. */
  get runCount(): number {
    return this.#runCount;
  }

  /** True once {@link IntervalCheck.stop} has been called. */
  get stopped(): boolean {
    return this.#state === "stopped";
  }

  /** Schedules the first run. Calling it again, or after `stop()`, does nothing. */
  start(): void {
    if (this.#state !== "new") return;
    this.#state = "started";
    this.#schedule(this.#firstRunDelayMs ?? randomStaggerMs(this.#runtime, this.#intervalMs));
  }

  /** Cancels the next run and ignores the result of a run in flight. Idempotent. */
  stop(): void {
    this.#state = "stopped";
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#inFlight?.abort();
    this.#inFlight = undefined;
  }

  #schedule(delayMs: number): void {
    this.#timer = afterLong(this.#runtime.timers, delayMs, () => {
      this.#timer = undefined;
      void this.#run();
    });
  }

  async #run(): Promise<void> {
    if (this.#state !== "started") return;
    const controller = new AbortController();
    this.#inFlight = controller;
    let result: CheckResult;
    try {
      result = await this.probe(controller.signal);
    } catch (error) {
      result = { status: "critical", output: errorMessage(error) };
    }
    if (this.#inFlight !== controller) return; // Stopped while running: drop the result.
    this.#inFlight = undefined;
    this.#runCount += 1;
    // The next run is scheduled before reporting, so a throwing callback cannot stop the check.
    this.#schedule(this.#intervalMs);
    this.#handler.report(result.status, result.output);
  }
}

/**
 * A random delay in [0, intervalMs), as Consul's `lib.RandomStagger`, so that checks registered
 * together do not all run at the same instant.
 *
 * @param runtime the source of random bytes
 * @param intervalMs the upper bound (excluded)
 * @returns the delay in milliseconds
 */
export function randomStaggerMs(runtime: Runtime, intervalMs: number): number {
  const bytes = runtime.randomBytes(new Uint8Array(4));
  const fraction = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0) / 2 ** 32;
  return fraction * intervalMs;
}
