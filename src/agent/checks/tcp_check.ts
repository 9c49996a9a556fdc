/**
 * TCP checks: a connection attempt on an interval; connected within the timeout is passing
 * ("TCP connect <addr>: Success"), anything else critical, as Consul's `checks.CheckTCP`.
 *
 * @module
 */

import type { Address, Runtime } from "../../runtime.ts";
import { errorMessage } from "./_output.ts";
import { RUNTIME_TIMEOUT_MS_MAX } from "./_timers.ts";
import { CHECK_TIMEOUT_DEFAULT_MS } from "./check_definition.ts";
import { type CheckResult, IntervalCheck, type IntervalCheckOptions } from "./interval_check.ts";
import type { CheckUpdate } from "./status_handler.ts";

/** What one TCP check connects to. Durations are milliseconds. */
export interface TcpProbeOptions {
  /** `host:port`, IPv6 hosts in brackets (`[::1]:8080`), as Go's `net.Dial`. */
  address: string;
  /** Time allowed to connect. @default {10000} */
  timeoutMs?: number;
}

/** Options of a {@link TcpCheck}: the target and the schedule. */
export interface TcpCheckOptions extends TcpProbeOptions, IntervalCheckOptions {}

/** A TCP check on an interval (see {@link probeTcp} for one run). */
export class TcpCheck extends IntervalCheck {
  /** Which kind of check this is. */
  readonly type = "tcp";
  readonly #options: TcpCheckOptions;

  /**
   * @param runtime dial, timers and random bytes
   * @param options the target and the schedule
   * @param update receives results that pass the thresholds
   */
  constructor(runtime: Runtime, options: TcpCheckOptions, update: CheckUpdate) {
    super(runtime, update, options);
    this.#options = options;
  }

  /** Connects once. */
  protected probe(): Promise<CheckResult> {
    return probeTcp(this.runtime, this.#options);
  }
}

/**
 * Splits `host:port` as Go's `net.SplitHostPort` does (brackets around IPv6 hosts) and checks
 * the port. `localhost` becomes 127.0.0.1, since the Runtime dials IP literals.
 *
 * @param text the address, e.g. `127.0.0.1:8080` or `[::1]:8080`
 * @returns the host and port
 * @throws {RangeError} when `text` is not `host:port` with a numeric port
 */
export function parseHostPort(text: string): Address {
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(text);
  if (match === null) {
    throw new RangeError(
      `Cannot parse address ${JSON.stringify(text)}: expected host:port, e.g. 127.0.0.1:8080`,
    );
  }
  const port = Number(match[3]);
  if (port > 65_535) {
    throw new RangeError(`Cannot parse address ${JSON.stringify(text)}: port ${port} > 65535`);
  }
  const host = match[1] ?? match[2];
  return { host: host === "localhost" || host === "" ? "127.0.0.1" : host, port };
}

/**
 * Connects once, closes at once, and grades the attempt. Never rejects.
 *
 * @param runtime dial
 * @param options the target and timeout
 * @returns passing with "TCP connect <addr>: Success", or critical with the reason
 */
export async function probeTcp(runtime: Runtime, options: TcpProbeOptions): Promise<CheckResult> {
  let to: Address;
  try {
    to = parseHostPort(options.address);
  } catch (error) {
    return { status: "critical", output: `dial tcp ${options.address}: ${errorMessage(error)}` };
  }
  try {
    const timeoutMs = Math.min(
      options.timeoutMs || CHECK_TIMEOUT_DEFAULT_MS,
      RUNTIME_TIMEOUT_MS_MAX,
    );
    const stream = await runtime.dial(to, { timeoutMs });
    stream.destroy();
  } catch (error) {
    return { status: "critical", output: `dial tcp ${options.address}: ${errorMessage(error)}` };
  }
  return { status: "passing", output: `TCP connect ${options.address}: Success` };
}
