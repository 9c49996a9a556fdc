/**
 * `-retry-join`: join through the given addresses, and keep trying with back-off until one
 * answers, as Consul's `retry_join`: forever by default (`retry_max = 0`), or `retry_max`
 * attempts, after which Consul's agent exits ("max join retry exhausted").
 *
 * @module
 */

import type { Address, Runtime } from "../../runtime.ts";
import { ipToBytes } from "./_ip.ts";

/** Addresses one retry-join may hold. */
export const retryJoinAddressesMax = 64;
/** The first wait after a failed attempt; it doubles after each failure. */
export const retryJoinFirstDelayMs = 1_000;
/** The longest wait between two attempts: Consul's `retry_interval` default. */
export const retryJoinDelayMaxMs = 30_000;
/** The longest `retry_interval` taken: a day. */
export const retryJoinIntervalMaxMs = 86_400_000;
/** The most `retry_max` attempts taken. */
export const retryJoinAttemptsMax = 1_000_000;

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
  /**
   * The longest wait between attempts (`retry_interval`): waits double from 1 s up to it.
   * @default {retryJoinDelayMaxMs}
   */
  intervalMs?: number;
  /** Attempts before giving up (`retry_max`); 0 retries forever. @default {0} */
  maxAttempts?: number;
  /** Called once when `maxAttempts` failed, with the reason (Consul's agent then exits). */
  onGiveUp?(reason: string): void;
}

/** Retries a join with doubling back-off until one address answers, or until stopped. */
export class RetryJoin {
  readonly #runtime: Runtime;
  readonly #options: RetryJoinOptions;
  #timer: { cancel(): void } | undefined;
  #delayMs: number;
  readonly #delayMaxMs: number;
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
    const intervalMs = options.intervalMs ?? retryJoinDelayMaxMs;
    if (!Number.isInteger(intervalMs) || intervalMs < 1 || intervalMs > retryJoinIntervalMaxMs) {
      throw new RangeError(
        `Cannot retry-join every ${intervalMs} ms: give 1 ms to ${retryJoinIntervalMaxMs} ms`,
      );
    }
    const maxAttempts = options.maxAttempts ?? 0;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 0 || maxAttempts > retryJoinAttemptsMax) {
      throw new RangeError(
        `Cannot retry-join ${maxAttempts} times: give 0 (forever) to ${retryJoinAttemptsMax}`,
      );
    }
    this.#runtime = runtime;
    this.#options = options;
    this.#delayMaxMs = intervalMs;
    this.#delayMs = Math.min(retryJoinFirstDelayMs, intervalMs);
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
    const maxAttempts = this.#options.maxAttempts ?? 0;
    if (maxAttempts > 0 && this.#attempts >= maxAttempts) {
      const reason = `join failed ${this.#attempts} times (retry_max): ${errors.join("; ")}`;
      this.#options.log.warn(`gossip: ${reason}; giving up`);
      this.#options.onGiveUp?.(reason);
      return;
    }
    const delayMs = this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, this.#delayMaxMs);
    this.#options.log.warn(
      `gossip: join failed (attempt ${this.#attempts}): ${errors.join("; ")}; ` +
        `retrying in ${delayMs} ms`,
    );
    this.#timer = this.#runtime.timers.after(delayMs, () => void this.#attempt());
  }
}
