/**
 * Health checks of the agent: parsing Consul check definitions and running them (TTL, HTTP,
 * TCP, script) on a Runtime, with Consul's statuses, outputs and thresholds.
 *
 * @example
 * ```ts
 * import type { Runtime } from "../../runtime.ts";
 * import { createCheckMonitor, parseCheckDefinition } from "./mod.ts";
 *
 * function watch(runtime: Runtime) {
 *   const definition = parseCheckDefinition({
 *     Name: "web",
 *     HTTP: "http://127.0.0.1:8080/health",
 *     Interval: "10s",
 *   });
 *   const check = createCheckMonitor(runtime, definition, (status, output) => {});
 *   check.start();
 *   return check;
 * }
 * ```
 *
 * @module
 */

export * from "./check_definition.ts";
export * from "./check_monitor.ts";
export * from "../../core/go_duration.ts";
export * from "./http_check.ts";
export * from "./interval_check.ts";
export * from "./script_check.ts";
export * from "./status_handler.ts";
export * from "./tcp_check.ts";
export * from "./ttl_check.ts";
