/**
 * `-retry-join`: join through the given addresses, and keep trying with back-off until one
 * answers, as Consul's `retry_join` (which retries forever by default, `retry_max = 0`).
 *
 * @module
 */

import type { Address, Runtime } from "../../runtime.ts";
import { ipToBytes } from "./_ip.ts";

/** Addresses one retry-join may hold. */
export const retryJoinAddressesMax = 64;
/** The first wait after a failed attempt; it doubles after each failure. */
export const retryJoinFirstDelayMs = 1_000;
/** The longest wait between two attempts (Consul's `retry_interval`). */
export const retryJoinDelayMaxMs = 30_000;

/**
 * Parses `host`, `host:port` or `[v6]:port` into an address; the port defaults to `defaultPort` (memberlist uses its own bind port).
 *
 * @throws RangeError naming the fix when the host is not an IP literal or the port is invalid
 */
export function parseJoinAddress(text: string, defaultPort: number): Address {
  const trimmed = text.trim();
  let host = trimmed;
  let port = defaultPort;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  const hostPort = /^([^:]+):(\d+)$/.exec(trimmed);
  if (bracketed !== null) {
    host = bracketed[1];
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (hostPort !== null) {
    host = hostPort[1];
    port = Number(hostPort[2]);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new RangeError(`Cannot join "${text}": the port must be 1 to 65535`);
  }
  try {
    ipToBytes(host);
  } catch {
    throw new RangeError(
      `Cannot join "${text}": give an IP address (host names and cloud auto-join are not ` +
        "supported yet)",
    );
  }
  return { host, port };
}

/** What a {@link RetryJoin} needs. */
export interface RetryJoinOptions {
  /** Where to join. */
  addresses: readonly Address[];
  /** One attempt through every address; resolves with how many answered. */
  join(addresses: readonly Address[]): Promise<{ joined: number; errors: string[] }>;
  /** Progress lines. */
  log: { info(message: string): void; warn(message: string): void };
}

/** Retries a join with doubling back-off until one address answers, or until stopped. */
export class RetryJoin {
  readonly #runtime: Runtime;
  readonly #options: RetryJoinOptions;
  #timer: { cancel(): void } | undefined;
  #delayMs = retryJoinFirstDelayMs;
  #attempts = 0;
  #stopped = false;
  #joined = false;

  /**
   * @param runtime for the timers
   * @param options addresses (at most {@link retryJoinAddressesMax}), the join call, the log
   */
  constructor(runtime: Runtime, options: RetryJoinOptions) {
    if (options.addresses.length > retryJoinAddressesMax) {
      throw new RangeError(
        `Cannot retry-join ${options.addresses.length} addresses: at most ` +
          `${retryJoinAddressesMax} are allowed`,
      );
    }
    this.#runtime = runtime;
    this.#options = options;
  }

  /** Whether an attempt has succeeded. */
  get joined(): boolean {
    return this.#joined;
  }

  /** Attempts made so far. */
  get attempts(): number {
    return this.#attempts;
  }

  /** Starts the first attempt now. */
  start(): void {
    if (this.#options.addresses.length === 0) return;
    this.#options.log.info("gossip: joining cluster...");
    void this.#attempt();
  }

  /** Stops retrying; an attempt under way finishes but schedules nothing. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  async #attempt(): Promise<void> {
    if (this.#stopped) return;
    this.#attempts += 1;
    const { joined, errors } = await this.#options.join(this.#options.addresses);
    if (this.#stopped) return;
    if (joined > 0) {
      this.#joined = true;
      this.#options.log.info(`gossip: join completed; initial agents synced with: ${joined}`);
      return;
    }
    const delayMs = this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, retryJoinDelayMaxMs);
    this.#options.log.warn(
      `gossip: join failed (attempt ${this.#attempts}): ${errors.join("; ")}; ` +
        `retrying in ${delayMs} ms`,
    );
    this.#timer = this.#runtime.timers.after(delayMs, () => void this.#attempt());
  }
}
