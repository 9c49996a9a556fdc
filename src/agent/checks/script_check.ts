/**
 * Script checks (`Args`): a program run on an interval without a shell; exit 0 is passing, 1
 * warning, anything else (or a failure to start) critical, with stdout and stderr as output; a
 * run past its timeout is killed and critical with "Timed out (<timeout>) running check", as
 * Consul's `checks.CheckMonitor` (Nagios plugin conventions).
 *
 * @module
 */

import type { Runtime } from "../../runtime.ts";
import { decodeOutput, errorMessage } from "./_output.ts";
import { RUNTIME_TIMEOUT_MS_MAX } from "./_timers.ts";
import {
  CHECK_OUTPUT_MAX_SIZE_DEFAULT,
  formatGoDuration,
  SCRIPT_CHECK_TIMEOUT_DEFAULT_MS,
} from "./check_definition.ts";
import { type CheckResult, IntervalCheck, type IntervalCheckOptions } from "./interval_check.ts";
import type { CheckUpdate } from "./status_handler.ts";

/** What one script check runs. Durations are milliseconds. */
export interface ScriptProbeOptions {
  /** The program and its arguments; the program is found on PATH when it has no slash. */
  args: string[];
  /** Time allowed before the process is killed. @default {30000} */
  timeoutMs?: number;
  /** Bytes of stdout and stderr kept. @default {4096} */
  outputMaxSize?: number;
}

/** Options of a {@link ScriptCheck}: the command and the schedule. */
export interface ScriptCheckOptions extends ScriptProbeOptions, IntervalCheckOptions {}

/** A script check on an interval (see {@link probeScript} for one run). */
export class ScriptCheck extends IntervalCheck {
  /** Which kind of check this is. */
  readonly type = "script";
  readonly #options: ScriptCheckOptions;

  /**
   * @param runtime run, timers and random bytes
   * @param options the command and the schedule
   * @param update receives results that pass the thresholds
   */
  constructor(runtime: Runtime, options: ScriptCheckOptions, update: CheckUpdate) {
    if (options.args.length === 0) {
      throw new RangeError("Cannot create script check: args must name a program");
    }
    super(runtime, update, options);
    this.#options = options;
  }

  /** Runs the program once. */
  protected probe(): Promise<CheckResult> {
    return probeScript(this.runtime, this.#options);
  }
}

/**
 * Runs the program once and grades its exit. Never rejects. The next run of a
 * {@link ScriptCheck} starts only after this one's process has ended (or been killed).
 *
 * @param runtime run
 * @param options the command, timeout and output cap
 * @returns the status and the captured output
 */
export async function probeScript(
  runtime: Runtime,
  options: ScriptProbeOptions,
): Promise<CheckResult> {
  const timeoutMs = options.timeoutMs || SCRIPT_CHECK_TIMEOUT_DEFAULT_MS;
  const outputMaxSize = options.outputMaxSize || CHECK_OUTPUT_MAX_SIZE_DEFAULT;
  let result;
  try {
    result = await runtime.run(options.args, {
      timeoutMs: Math.min(timeoutMs, RUNTIME_TIMEOUT_MS_MAX),
      outputBytesMax: outputMaxSize,
    });
  } catch (error) {
    return {
      status: "critical",
      output: `Cannot run ${JSON.stringify(options.args[0])}: ${errorMessage(error)}`,
    };
  }
  const output = decodeOutput(result.output, outputMaxSize);
  if (result.timedOut) {
    const message = `Timed out (${formatGoDuration(timeoutMs)}) running check`;
    return { status: "critical", output: output === "" ? message : `${message}\n\n${output}` };
  }
  if (result.exitCode === 0) return { status: "passing", output };
  if (result.exitCode === 1) return { status: "warning", output };
  return { status: "critical", output };
}
