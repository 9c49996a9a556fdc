/**
 * Tuning for the Serf core, with Serf 0.9.4's defaults (`serf/config.go`, gossip-wire.md §11.11)
 * and Consul's where Consul overrides them. Durations are milliseconds; every bound is a
 * `...Max` constant beside its default.
 *
 * @module
 */

/** Serf's hard ceiling on a user event, name plus payload (`UserEventSizeLimit`, 9 KiB). */
export const userEventBytesMax = 9 * 1_024;
/** Largest event or query buffer (slots keyed by clock modulo its size). */
export const bufferSlotsMax = 65_536;
/** Members one Serf core tracks, tombstones included; more are dropped and counted. */
export const membersMax = 65_536;
/** Unknown members whose latest intent is remembered (Serf's `recentIntents`). */
export const recentIntentsMax = 16_384;
/** Outputs waiting for `poll()`; past this the oldest are dropped and counted. */
export const outputsMax = 65_536;
/** Our own queries waiting for acks and responses at once. */
export const pendingQueriesMax = 1_024;
/** Received queries we may still respond to at once. */
export const incomingQueriesMax = 4_096;
/** Keyring requests waiting for the shell's answer at once. */
export const keyringRequestsMax = 64;
/** Distinct events kept in one event buffer slot (one clock value); Serf keeps any number. */
export const slotEventsMax = 64;
/** Distinct query ids kept in one query buffer slot. */
export const slotQueriesMax = 256;
/** Event names held by the user-event coalescer at once; more pass through uncoalesced. */
export const coalescedNamesMax = 1_024;
/** Characters of a tag filter's regular expression we agree to compile. */
export const filterExpressionCharsMax = 1_024;

/** Tuning of one Serf pool (LAN or WAN). */
export interface SerfConfig {
  /**
   * Failed members are erased (reaped) after this long; Consul's `reconnect_timeout` (Serf's
   * own default is 24 h). @default {259_200_000} (72 h)
   */
  reconnectTimeoutMs: number;
  /** Left members are erased after this long (`TombstoneTimeout`). @default {86_400_000} (24 h) */
  tombstoneTimeoutMs: number;
  /** Time between two reaping passes (`ReapInterval`). @default {15_000} */
  reapIntervalMs: number;
  /** Time between two reconnect draws (`ReconnectInterval`); 0 disables. @default {30_000} */
  reconnectIntervalMs: number;
  /** Intents about unknown members are forgotten after this long. @default {300_000} */
  recentIntentTimeoutMs: number;
  /** Longest wait for our leave intent to go out, and for memberlist's leave. @default {5_000} */
  broadcastTimeoutMs: number;
  /** Stay up this long after leaving memberlist, to answer probes. @default {1_000} */
  leavePropagateDelayMs: number;
  /** Slots of the user event buffer (`EventBuffer`); older events are refused. @default {512} */
  eventBufferSize: number;
  /** Slots of the query buffer (`QueryBuffer`). @default {512} */
  queryBufferSize: number;
  /** Name plus payload of one user event, before and after encoding. @default {512} */
  userEventSizeLimit: number;
  /** An encoded query (`QuerySizeLimit`). @default {1_024} */
  querySizeLimit: number;
  /** An encoded query response or relay (`QueryResponseSizeLimit`). @default {1_024} */
  queryResponseSizeLimit: number;
  /** Default query timeout = gossip interval × this × ceil(log10(n + 1)). @default {16} */
  queryTimeoutMult: number;
  /** memberlist's gossip interval, used only for the default query timeout. @default {200} */
  gossipIntervalMs: number;
  /**
   * Coalesce user events flagged `coalesce` with the same name: deliver only the newest after
   * this long (Serf's `UserCoalescePeriod`). 0 delivers every event at once. @default {0}
   */
  userCoalescePeriodMs: number;
  /** ...or after this long without a new coalesced event (`UserQuiescentPeriod`). @default {0} */
  userQuiescentPeriodMs: number;
  /** Run `_serf_conflict` when another member claims our name. @default {true} */
  enableNameConflictResolution: boolean;
}

/** Defaults for a LAN pool (Serf's `DefaultConfig` with Consul's reconnect timeout). */
export function defaultSerfConfig(): SerfConfig {
  return {
    reconnectTimeoutMs: 72 * 3_600_000, // Consul: 72 h, so a long outage does not erase nodes.
    tombstoneTimeoutMs: 24 * 3_600_000,
    reapIntervalMs: 15_000,
    reconnectIntervalMs: 30_000,
    recentIntentTimeoutMs: 5 * 60_000,
    broadcastTimeoutMs: 5_000,
    leavePropagateDelayMs: 1_000,
    eventBufferSize: 512,
    queryBufferSize: 512,
    userEventSizeLimit: 512,
    querySizeLimit: 1_024,
    queryResponseSizeLimit: 1_024,
    queryTimeoutMult: 16,
    gossipIntervalMs: 200, // memberlist LAN GossipInterval.
    userCoalescePeriodMs: 0, // Off in the core; the agent turns on 3 s / 1 s as Serf's agent.
    userQuiescentPeriodMs: 0,
    enableNameConflictResolution: true,
  };
}

/** Defaults for a WAN pool: memberlist's WAN gossip interval stretches query timeouts. */
export function defaultWanSerfConfig(): SerfConfig {
  return { ...defaultSerfConfig(), gossipIntervalMs: 500 };
}

/** Defaults for tests and dev mode on one host: quick leaves and gossip. */
export function defaultLocalSerfConfig(): SerfConfig {
  return { ...defaultSerfConfig(), broadcastTimeoutMs: 500, leavePropagateDelayMs: 100 };
}

/** Throws `RangeError` naming the fix when `config` cannot work. */
export function validateSerfConfig(config: SerfConfig): void {
  const positive: (keyof SerfConfig)[] = [
    "reconnectTimeoutMs",
    "tombstoneTimeoutMs",
    "reapIntervalMs",
    "recentIntentTimeoutMs",
    "broadcastTimeoutMs",
    "queryTimeoutMult",
    "gossipIntervalMs",
  ];
  for (const key of positive) {
    const value = config[key];
    if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
      throw new RangeError(`Cannot use Serf config as ${key} must be > 0: it is "${value}"`);
    }
  }
  for (const key of ["eventBufferSize", "queryBufferSize"] as const) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 1 || value > bufferSlotsMax) {
      throw new RangeError(
        `Cannot use Serf config as ${key} must be an integer in [1, ${bufferSlotsMax}]: ` +
          `it is "${value}"`,
      );
    }
  }
  if (config.userEventSizeLimit < 1 || config.userEventSizeLimit > userEventBytesMax) {
    throw new RangeError(
      `Cannot use Serf config as userEventSizeLimit must be in [1, ${userEventBytesMax}]: ` +
        `it is "${config.userEventSizeLimit}"`,
    );
  }
  if (config.reconnectIntervalMs < 0 || config.leavePropagateDelayMs < 0) {
    throw new RangeError("Cannot use Serf config as intervals must be >= 0: one is negative");
  }
}
