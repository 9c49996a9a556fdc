/**
 * One entry point for the agent: a parsed {@link CheckDefinition} in, the running check out.
 * The monitor reports each result through `update(status, output)`; it does not report the
 * initial status, which the agent takes from the definition.
 *
 * @module
 */

import type { Runtime } from "../../runtime.ts";
import { CHECK_OUTPUT_MAX_SIZE_DEFAULT, type CheckDefinition } from "./check_definition.ts";
import { HttpCheck } from "./http_check.ts";
import { ScriptCheck } from "./script_check.ts";
import type { CheckUpdate } from "./status_handler.ts";
import { TcpCheck } from "./tcp_check.ts";
import { TtlCheck } from "./ttl_check.ts";

/** A running check of any kind; `type` tells which (a TTL check also takes updates). */
export type CheckMonitor = TtlCheck | HttpCheck | TcpCheck | ScriptCheck;

/** Options for {@link createCheckMonitor}. */
export interface CheckMonitorOptions {
  /**
   * The agent's cap on a check's output in bytes (Consul's `check_output_max_size`); a check's
   * own `OutputMaxSize` may only lower it. @default {4096}
   */
  outputMaxSize?: number;
  /** Delay of an interval check's first run. @default {random in [0, interval)} */
  firstRunDelayMs?: number;
}

/**
 * Creates the check `definition` describes, not yet started (call `start()`; `stop()` when the
 * check is deregistered or replaced).
 *
 * @param runtime the outside world the check probes through
 * @param definition a parsed definition
 * @param update receives each result (after the thresholds, for interval checks)
 * @param options the agent's output cap
 * @returns the check, by `type`
 * @example
 * ```ts
 * import type { Runtime } from "../../runtime.ts";
 * import { createCheckMonitor } from "./check_monitor.ts";
 * import { parseCheckDefinition } from "./check_definition.ts";
 *
 * function watch(runtime: Runtime, body: unknown) {
 *   const definition = parseCheckDefinition(body);
 *   const check = createCheckMonitor(runtime, definition, (status, output) => {});
 *   check.start();
 *   return check; // check.stop() on deregistration
 * }
 * ```
 */
export function createCheckMonitor(
  runtime: Runtime,
  definition: CheckDefinition,
  update: CheckUpdate,
  options: CheckMonitorOptions = {},
): CheckMonitor {
  const agentCap = options.outputMaxSize || CHECK_OUTPUT_MAX_SIZE_DEFAULT;
  // As Consul's agent.addCheck: the check's own size applies only when below the agent's cap.
  const outputMaxSize = definition.outputMaxSize > 0
    ? Math.min(definition.outputMaxSize, agentCap)
    : agentCap;
  if (definition.type === "ttl") {
    return new TtlCheck(runtime, {
      ttlMs: definition.ttlMs,
      status: definition.status,
      outputMaxSize,
    }, update);
  }
  const schedule = {
    intervalMs: definition.intervalMs,
    firstRunDelayMs: options.firstRunDelayMs,
    successBeforePassing: definition.successBeforePassing,
    failuresBeforeWarning: definition.failuresBeforeWarning,
    failuresBeforeCritical: definition.failuresBeforeCritical,
  };
  switch (definition.type) {
    case "http":
      return new HttpCheck(runtime, {
        ...schedule,
        url: definition.http,
        method: definition.method,
        header: definition.header,
        body: definition.body,
        timeoutMs: definition.timeoutMs,
        outputMaxSize,
        disableRedirects: definition.disableRedirects,
        tlsSkipVerify: definition.tlsSkipVerify,
      }, update);
    case "tcp":
      return new TcpCheck(runtime, {
        ...schedule,
        address: definition.tcp,
        timeoutMs: definition.timeoutMs,
      }, update);
    case "script":
      return new ScriptCheck(runtime, {
        ...schedule,
        args: definition.args,
        timeoutMs: definition.timeoutMs,
        outputMaxSize,
      }, update);
  }
}
