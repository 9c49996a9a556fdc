/**
 * Tuning for the Vivaldi network coordinate client, with Serf's defaults (`coordinate/config.go`,
 * gossip-wire.md §12). Coordinates are in seconds, as on the wire; round-trip times arrive in
 * milliseconds, as every other time in the cores.
 *
 * References cited below: [1] Dabek et al., "Vivaldi: a decentralized network coordinate system",
 * SIGCOMM 2004; [2] Ledlie, Gardner, Seltzer, "Network coordinates in the wild", NSDI 2007;
 * [3] Lee et al., "On suitability of Euclidean embedding for host-based network coordinate
 * systems", IEEE/ACM ToN 18(1), 2010.
 *
 * @module
 */

import { coordinateDimensionsMax } from "../wire/serf_codec.ts";

/** Tuning for one {@link VivaldiClient}. Every bound is a `...Max` with a default. */
export interface VivaldiConfig {
  /**
   * Dimensions of the Euclidean part (`Dimensionality`); peers must agree, since coordinates of
   * another dimensionality are rejected. [2] saw no gain beyond 7. @default {8}
   */
  dimensionality: number;
  /**
   * Error of a fresh coordinate and the ceiling of the error estimate (`VivaldiErrorMax`);
   * dimensionless. @default {1.5}
   */
  vivaldiErrorMax: number;
  /** Largest effect of one observation on the error estimate (`VivaldiCE`, c_e in [1]). @default {0.25} */
  vivaldiCe: number;
  /** Largest effect of one observation on the coordinate (`VivaldiCC`, c_c in [1]). @default {0.25} */
  vivaldiCc: number;
  /**
   * Samples in the rolling window of the adjustment term, [3] (`AdjustmentWindowSize`); 0 turns
   * the adjustment off. @default {20}
   */
  adjustmentWindowSize: number;
  /** Floor of the height, in seconds (`HeightMin`); a height is never zero. @default {0.00001} */
  heightMin: number;
  /**
   * Round-trip samples kept per peer; each update uses their median (`LatencyFilterSize`), as
   * [2] recommends against outliers. @default {3}
   */
  latencyFilterSize: number;
  /**
   * Peers whose samples the latency filter keeps at once; past it the least recently measured
   * peer is forgotten and counted (Serf's map is unbounded and relies on `ForgetNode`).
   * @default {65536}
   */
  latencyFilterNodesMax: number;
  /**
   * Gravity pulls coordinates toward the origin with a force of `(distance / gravityRho)^2`
   * seconds, so the whole cluster does not drift away over time (`GravityRho`, [2]).
   * @default {150}
   */
  gravityRho: number;
  /** Largest round-trip time accepted by `update()` (Serf's `maxRTT`, 10 s). @default {10000} */
  rttMaxMs: number;
}

/** Largest `adjustmentWindowSize`. */
export const adjustmentWindowSizeMax = 1_024;
/** Largest `latencyFilterSize`. */
export const latencyFilterSizeMax = 64;
/** Largest `latencyFilterNodesMax`. */
export const latencyFilterNodesMaxMax = 1_048_576;
/** Largest `rttMaxMs`: one minute. */
export const rttMaxMsMax = 60_000;

/** Serf's defaults (`coordinate.DefaultConfig`), which Consul uses for LAN and WAN alike. */
export function defaultVivaldiConfig(): VivaldiConfig {
  return {
    dimensionality: 8, // Serf's and Consul's; the wire carries whatever length, peers must match.
    vivaldiErrorMax: 1.5, // A fresh node claims no confidence; observations lower it.
    vivaldiCe: 0.25, // [1]'s recommended c_e: smooth error estimates.
    vivaldiCc: 0.25, // [1]'s recommended c_c: fast but stable convergence.
    adjustmentWindowSize: 20, // Serf's window: 20 recent residuals correct non-Euclidean effects.
    heightMin: 10e-6, // 10 µs: a height of 0 would stop height updates from moving.
    latencyFilterSize: 3, // Median of 3 rejects a single delayed ack.
    latencyFilterNodesMax: 65_536, // Above Consul's largest LAN pools; 3 floats per peer.
    gravityRho: 150, // 150 s: gravity is negligible near the origin, strong far away.
    rttMaxMs: 10_000, // Serf rejects longer samples as bogus.
  };
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot use Vivaldi config as ${name} must be an integer in [${min}, ${max}]: ` +
        `current value is "${value}"`,
    );
  }
}

function checkReal(name: string, value: number, min: number, max: number, minOpen: boolean): void {
  const aboveMin = minOpen ? value > min : value >= min;
  if (!Number.isFinite(value) || !aboveMin || value > max) {
    throw new RangeError(
      `Cannot use Vivaldi config as ${name} must be a number in ${minOpen ? "(" : "["}${min}, ` +
        `${max}]: current value is "${value}"`,
    );
  }
}

/**
 * Throws a `RangeError` naming the fix if `config` cannot work.
 *
 * @param config the configuration to check
 * @example
 * ```ts
 * validateVivaldiConfig({ ...defaultVivaldiConfig(), dimensionality: 0 }); // throws
 * ```
 */
export function validateVivaldiConfig(config: VivaldiConfig): void {
  checkInteger("dimensionality", config.dimensionality, 1, coordinateDimensionsMax);
  checkReal("vivaldiErrorMax", config.vivaldiErrorMax, 0, 1e6, true);
  checkReal("vivaldiCe", config.vivaldiCe, 0, 1, true);
  checkReal("vivaldiCc", config.vivaldiCc, 0, 1, true);
  checkInteger("adjustmentWindowSize", config.adjustmentWindowSize, 0, adjustmentWindowSizeMax);
  checkReal("heightMin", config.heightMin, 0, 1, true);
  checkInteger("latencyFilterSize", config.latencyFilterSize, 1, latencyFilterSizeMax);
  checkInteger("latencyFilterNodesMax", config.latencyFilterNodesMax, 1, latencyFilterNodesMaxMax);
  checkReal("gravityRho", config.gravityRho, 0, Number.MAX_VALUE, true);
  checkReal("rttMaxMs", config.rttMaxMs, 0, rttMaxMsMax, true);
}
