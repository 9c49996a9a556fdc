/**
 * TTL checks: the application reports its own status (`PUT /v1/agent/check/pass|warn|fail/:id`,
 * `/update/:id`), and a check not updated within its TTL turns critical with "TTL expired", as
 * Consul's `checks.CheckTTL`.
 *
 * @module
 */

import type { Runtime, TimerHandle } from "../../runtime.ts";
import { afterLong } from "./_timers.ts";
import { cutText } from "./_output.ts";
import { CHECK_OUTPUT_MAX_SIZE_DEFAULT } from "./check_definition.ts";
import { type CheckStatus, type CheckUpdate, isCheckStatus } from "./status_handler.ts";

/** Options of a {@link TtlCheck}. Durations are milliseconds. */
export interface TtlCheckOptions {
  /** Time allowed between updates before the check turns critical; any value > 0. */
  ttlMs: number;
  /** The status before the first update. @default {"critical"} */
  status?: CheckStatus;
  /** The output before the first update (kept for the "TTL expired" text). @default {""} */
  output?: string;
  /** Longer outputs are cut to this many bytes, with a note. @default {4096} */
  outputMaxSize?: number;
}

/**
 * A TTL check. {@link TtlCheck.start} arms the TTL; each `pass`, `warn`, `fail` or `update`
 * reports the new status to the callback and re-arms it; when it runs out the callback hears
 * "critical" with output "TTL expired" (followed by the last output, if there was one). The
 * thresholds of polling checks do not apply, as in Consul.
 *
 * @example
 * ```ts
 * import type { Runtime } from "../../runtime.ts";
 * import { TtlCheck } from "./ttl_check.ts";
 *
 * function heartbeat(runtime: Runtime): TtlCheck {
 *   const check = new TtlCheck(runtime, { ttlMs: 15_000 }, (status, output) => {});
 *   check.start();
 *   check.pass("all good");
 *   return check;
 * }
 * ```
 */
export class TtlCheck {
  /** Which kind of check this is. */
  readonly type = "ttl";
  readonly #runtime: Runtime;
  readonly #update: CheckUpdate;
  readonly #ttlMs: number;
  readonly #outputMaxSize: number;
  #status: CheckStatus;
  /** What was last reported: the application's output, or the expiry text. */
  #output: string;
  /** The application's last output, quoted by the expiry text. */
  #lastUpdateOutput: string;
  #state: "new" | "started" | "stopped" = "new";
  #timer: TimerHandle | undefined;

  /**
   * @param runtime timers
   * @param options the TTL, initial status and output cap
   * @param update receives each status set and the expiry
   */
  constructor(runtime: Runtime, options: TtlCheckOptions, update: CheckUpdate) {
    if (!(options.ttlMs > 0) || !Number.isFinite(options.ttlMs)) {
      throw new RangeError(
        `Cannot create TTL check: ttlMs must be a finite number > 0, got ${options.ttlMs}`,
      );
    }
    this.#runtime = runtime;
    this.#update = update;
    this.#ttlMs = options.ttlMs;
    this.#outputMaxSize = options.outputMaxSize || CHECK_OUTPUT_MAX_SIZE_DEFAULT;
    this.#status = options.status ?? "critical";
    this.#output = options.output ?? "";
    this.#lastUpdateOutput = this.#output;
  }

  /** The current status: the initial one, the last set, or "critical" after expiry. */
  get status(): CheckStatus {
    return this.#status;
  }

  /** The output last reported: the last update's (after cutting), or the expiry text. */
  get output(): string {
    return this.#output;
  }

  /** True once {@link TtlCheck.stop} has been called. */
  get stopped(): boolean {
    return this.#state === "stopped";
  }

  /** Arms the TTL. Calling it again, or after `stop()`, does nothing. */
  start(): void {
    if (this.#state !== "new") return;
    this.#state = "started";
    this.#arm();
  }

  /** Disarms the TTL for good; later updates throw. Idempotent. */
  stop(): void {
    this.#state = "stopped";
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /**
   * Sets "passing" with `note` as output and re-arms the TTL.
   *
   * @param note the output
   * @returns the output kept (cut to the output cap)
   */
  pass(note = ""): string {
    return this.update("passing", note);
  }

  /**
   * Sets "warning" with `note` as output and re-arms the TTL.
   *
   * @param note the output
   * @returns the output kept (cut to the output cap)
   */
  warn(note = ""): string {
    return this.update("warning", note);
  }

  /**
   * Sets "critical" with `note` as output and re-arms the TTL.
   *
   * @param note the output
   * @returns the output kept (cut to the output cap)
   */
  fail(note = ""): string {
    return this.update("critical", note);
  }

  /**
   * Sets `status` and `output`, reports them and re-arms the TTL (as Consul's `SetStatus`).
   * Before `start()` the values are kept and reported, and the TTL is armed by `start()`.
   *
   * @param status the new status
   * @param output the new output; longer than the cap it is cut, with a note of the sizes
   * @returns the output kept
   * @throws {Error} when the check is stopped
   * @throws {RangeError} when `status` is not a check status
   */
  update(status: CheckStatus, output = ""): string {
    if (this.#state === "stopped") throw new Error("Cannot update TTL check: it is stopped");
    if (!isCheckStatus(status)) {
      throw new RangeError(
        `Cannot update TTL check: status must be "passing", "warning" or "critical", ` +
          `got ${JSON.stringify(status)}`,
      );
    }
    const cut = cutText(String(output), this.#outputMaxSize);
    const kept = cut.text.length === output.length
      ? output
      : `${cut.text} ... (captured ${this.#outputMaxSize} of ${cut.totalBytes} bytes)`;
    this.#status = status;
    this.#output = kept;
    this.#lastUpdateOutput = kept;
    if (this.#state === "started") this.#arm();
    this.#update(status, kept);
    return kept;
  }

  #arm(): void {
    this.#timer?.cancel();
    this.#timer = afterLong(this.#runtime.timers, this.#ttlMs, () => this.#expire());
  }

  #expire(): void {
    this.#timer = undefined;
    if (this.#state !== "started") return;
    const last = this.#lastUpdateOutput;
    this.#status = "critical";
    this.#output = last === ""
      ? "TTL expired"
      : `TTL expired (last output before timeout follows): ${last}`;
    this.#update("critical", this.#output);
  }
}
