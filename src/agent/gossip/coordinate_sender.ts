/**
 * Sends this agent's Vivaldi coordinate to the servers now and then, as Consul's agent does
 * (`agent.go` `sendCoordinate`, at least every 15 s): only when it changed since the last send
 * that succeeded, one send at a time, and never faster than the interval.
 *
 * @module
 */

import type { Runtime } from "../../runtime.ts";
import type { Coordinate } from "../../core/vivaldi/mod.ts";

/** Consul's `SyncCoordinateIntervalMin`: the least time between two sends. */
export const coordinateSendIntervalMs = 15_000;

/** What a {@link CoordinateSender} needs. */
export interface CoordinateSenderOptions {
  /** Our current coordinate. */
  coordinate(): Coordinate;
  /** Sends it (a `coordinateBatchUpdate` proposal); rejects or resolves false on failure. */
  send(coordinate: Coordinate): Promise<boolean>;
  /** Where failures go. */
  log: { debug(message: string): void };
  /** @default {coordinateSendIntervalMs} */
  intervalMs?: number;
}

/** A periodic, bounded sender of one coordinate. */
export class CoordinateSender {
  readonly #runtime: Runtime;
  readonly #options: CoordinateSenderOptions;
  #timer: { cancel(): void } | undefined;
  #lastSent = "";
  #inFlight = false;
  #sends = 0;

  /**
   * @param runtime timers
   * @param options where the coordinate comes from and goes to
   */
  constructor(runtime: Runtime, options: CoordinateSenderOptions) {
    this.#runtime = runtime;
    this.#options = options;
  }

  /** Sends that succeeded. */
  get sends(): number {
    return this.#sends;
  }

  /** Starts the timer; idempotent. */
  start(): void {
    this.#timer ??= this.#runtime.timers.every(
      this.#options.intervalMs ?? coordinateSendIntervalMs,
      () => void this.sendIfChanged(),
    );
  }

  /** Stops the timer; a send in flight finishes on its own. */
  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** Sends the coordinate when it differs from the last one sent and no send is in flight. */
  async sendIfChanged(): Promise<void> {
    if (this.#inFlight) return;
    const coordinate = this.#options.coordinate();
    const text = JSON.stringify(coordinate);
    if (text === this.#lastSent) return;
    this.#inFlight = true;
    try {
      if (await this.#options.send(coordinate)) {
        this.#lastSent = text;
        this.#sends += 1;
      }
    } catch (error) {
      this.#options.log.debug(`Cannot send coordinate: ${(error as Error).message}`);
    } finally {
      this.#inFlight = false;
    }
  }
}
