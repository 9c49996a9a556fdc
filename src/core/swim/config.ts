/**
 * Tuning for the SWIM + Lifeguard membership core, with memberlist's presets (v0.2.2
 * `config.go`, gossip-wire.md §6.1). Durations are milliseconds.
 *
 * @module
 */

/** Tuning for one gossip pool (LAN or WAN). Every bound is a `...Max` with a default. */
export interface SwimConfig {
  /** Time between two probes of one member (`ProbeInterval`). @default {1000} */
  probeIntervalMs: number;
  /**
   * Wait for a direct ack before asking helpers (`ProbeTimeout`); about the 99th percentile
   * round trip. Lifeguard does not stretch it, as memberlist does not: waiting longer for UDP
   * rarely helps, while the stretched probe deadline gives indirect and TCP probes more time.
   * @default {500}
   */
  probeTimeoutMs: number;
  /** Members asked to probe on our behalf after a missed ack (`IndirectChecks`). @default {3} */
  indirectChecks: number;
  /**
   * Suspicion timeout multiplier: the minimum timeout is `suspicionMult * max(1, log10(n)) *
   * probeIntervalMs`; Lifeguard expects `suspicionMult - 2` independent confirmations.
   * @default {4}
   */
  suspicionMult: number;
  /**
   * Maximum suspicion timeout as a multiple of the minimum (`SuspicionMaxTimeoutMult`); a lone
   * suspicion waits this long, confirmations shrink it to the minimum (Lifeguard). 1 disables
   * the shrinking: every suspicion waits the minimum, as plain SWIM. @default {6}
   */
  suspicionMaxTimeoutMult: number;
  /** Each broadcast is sent `retransmitMult * ceil(log10(n + 1))` times (`RetransmitMult`). @default {4} */
  retransmitMult: number;
  /** Time between two gossip rounds to `gossipNodes` random members (`GossipInterval`). @default {200} */
  gossipIntervalMs: number;
  /** Members gossiped to each round (`GossipNodes`). @default {3} */
  gossipNodes: number;
  /**
   * Dead members keep receiving gossip (so they learn they were declared dead and refute) and
   * stay in the member list for this long (`GossipToTheDeadTime`). @default {30000}
   */
  gossipToTheDeadTimeMs: number;
  /**
   * Time between two periodic push/pull state exchanges with one random member
   * (`PushPullInterval`); scaled up above 32 members. 0 disables them. @default {30000}
   */
  pushPullIntervalMs: number;
  /** Deadline of a whole TCP exchange (push/pull, `TCPTimeout`). @default {10000} */
  tcpTimeoutMs: number;
  /**
   * Lifeguard local health: probe deadlines are stretched by up to this factor
   * (`AwarenessMaxMultiplier`); the score runs from 0 to this minus 1. 1 disables awareness.
   * @default {8}
   */
  awarenessMaxMultiplier: number;
  /** Try a TCP ping when direct and indirect UDP probes fail (`!DisableTcpPings`). @default {true} */
  tcpPings: boolean;
  /** Bytes of one UDP packet we send, piggybacked broadcasts included (`UDPBufferSize`). @default {1400} */
  packetBytesMax: number;
  /**
   * Bytes the shell adds after the core has filled a packet, such as the 29 bytes of AES-GCM
   * encryption version 1; subtracted from `packetBytesMax`. @default {0}
   */
  packetOverheadBytes: number;
  /** Broadcasts queued for retransmission; past it the most sent and oldest are dropped. @default {1024} */
  broadcastQueueMax: number;
  /** Members known at once; alive messages about new members past it are dropped and counted. @default {65536} */
  membersMax: number;
  /** Indirect probes we run for others at once; more requests are dropped and counted. @default {1024} */
  relaysMax: number;
  /** Outgoing TCP exchanges (push/pull, TCP pings) waiting for the shell at once. @default {128} */
  streamsMax: number;
  /** Outputs waiting for `poll()`; past it new outputs are dropped and counted. @default {65536} */
  outputsMax: number;
}

/** Largest interval or timeout accepted: one day. */
export const durationMsMax = 86_400_000;
/** Largest `indirectChecks`. */
export const indirectChecksMax = 64;
/** Largest `gossipNodes`. */
export const gossipNodesMax = 64;
/** Largest `suspicionMult`, `suspicionMaxTimeoutMult` and `retransmitMult`. */
export const multiplierMax = 100;
/** Largest `awarenessMaxMultiplier`. */
export const awarenessMaxMultiplierMax = 64;
/** Largest `packetBytesMax`: one UDP datagram. */
export const packetBytesMaxMax = 65_507;
/** Largest `broadcastQueueMax`. */
export const broadcastQueueMaxMax = 1_048_576;
/** Largest `membersMax`. */
export const membersMaxMax = 1_048_576;
/** Largest `relaysMax`, `streamsMax` and `outputsMax`. */
export const queueMaxMax = 1_048_576;
/** Bytes of member metadata (memberlist's `MetaMaxSize`). */
export const metaBytesMax = 512;

/** Defaults for one datacenter's LAN pool (memberlist `DefaultLANConfig`). */
export function defaultLanConfig(): SwimConfig {
  return {
    probeIntervalMs: 1_000, // One failure check per second.
    probeTimeoutMs: 500, // A generous LAN round trip (99.9th percentile).
    indirectChecks: 3, // Three helpers make a lost packet unlikely to condemn a member.
    suspicionMult: 4, // 4 s at 10 members, 8 s at 100, before confirmations.
    suspicionMaxTimeoutMult: 6, // A lone accuser waits 6x as long (Lifeguard).
    retransmitMult: 4, // Enough retransmissions to reach everyone with high probability.
    gossipIntervalMs: 200, // Fast spread at a low packet rate.
    gossipNodes: 3, // Fan-out of each gossip round.
    gossipToTheDeadTimeMs: 30_000, // Let a wrongly dead member hear it and refute.
    pushPullIntervalMs: 30_000, // Anti-entropy is costly (TCP, full state): rarely.
    tcpTimeoutMs: 10_000, // A full state exchange over a slow link.
    awarenessMaxMultiplier: 8, // Up to 8x longer probe deadlines for an unhealthy member.
    tcpPings: true, // Catches UDP-only trouble (firewalls) before suspecting.
    packetBytesMax: 1_400, // Fits a 1500-byte MTU with room for headers.
    packetOverheadBytes: 0, // Plaintext; the shell sets 29 when it encrypts.
    broadcastQueueMax: 1_024, // Plenty for steady state; joins of thousands drop the oldest.
    membersMax: 65_536, // Far above Consul's largest LAN pools.
    relaysMax: 1_024, // Indirect probes for others in one probe timeout.
    streamsMax: 128, // memberlist's limit on concurrent push/pulls.
    outputsMax: 65_536, // Bounds memory between two poll() drains.
  };
}

/** Defaults for the WAN pool: slower probes, more patience (memberlist `DefaultWANConfig`). */
export function defaultWanConfig(): SwimConfig {
  return {
    ...defaultLanConfig(),
    probeIntervalMs: 5_000, // Cross-datacenter links are slower and costlier.
    probeTimeoutMs: 3_000, // Round trips across continents.
    suspicionMult: 6, // More patience before declaring a far member dead.
    gossipIntervalMs: 500, // Fewer packets over the WAN.
    gossipNodes: 4, // Fewer rounds, so a wider fan-out.
    gossipToTheDeadTimeMs: 60_000, // Twice the LAN window to refute.
    pushPullIntervalMs: 60_000, // Full state exchanges are costlier over the WAN.
    tcpTimeoutMs: 30_000, // Slow links.
  };
}

/** Defaults for one host (tests, dev mode): loopback is fast (memberlist `DefaultLocalConfig`). */
export function defaultLocalConfig(): SwimConfig {
  return {
    ...defaultLanConfig(),
    probeTimeoutMs: 200, // Loopback round trips are tiny.
    indirectChecks: 1, // Few members on one host.
    suspicionMult: 3, // Faster detection.
    retransmitMult: 2, // Loopback rarely loses packets.
    gossipIntervalMs: 100, // Faster spread.
    gossipToTheDeadTimeMs: 15_000, // Shorter window to refute.
    pushPullIntervalMs: 15_000, // Cheap on loopback.
    tcpTimeoutMs: 1_000, // Loopback connects at once.
  };
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot use SWIM config as ${name} must be an integer in [${min}, ${max}]: ` +
        `current value is "${value}"`,
    );
  }
}

/**
 * Throws a `RangeError` naming the fix if `config` cannot work.
 *
 * @example
 * ```ts
 * validateSwimConfig({ ...defaultLanConfig(), probeTimeoutMs: 2_000 }); // throws
 * ```
 */
export function validateSwimConfig(config: SwimConfig): void {
  checkInteger("probeIntervalMs", config.probeIntervalMs, 1, durationMsMax);
  checkInteger("probeTimeoutMs", config.probeTimeoutMs, 1, durationMsMax);
  checkInteger("indirectChecks", config.indirectChecks, 0, indirectChecksMax);
  checkInteger("suspicionMult", config.suspicionMult, 1, multiplierMax);
  checkInteger("suspicionMaxTimeoutMult", config.suspicionMaxTimeoutMult, 1, multiplierMax);
  checkInteger("retransmitMult", config.retransmitMult, 1, multiplierMax);
  checkInteger("gossipIntervalMs", config.gossipIntervalMs, 1, durationMsMax);
  checkInteger("gossipNodes", config.gossipNodes, 1, gossipNodesMax);
  checkInteger("gossipToTheDeadTimeMs", config.gossipToTheDeadTimeMs, 0, durationMsMax);
  checkInteger("pushPullIntervalMs", config.pushPullIntervalMs, 0, durationMsMax);
  checkInteger("tcpTimeoutMs", config.tcpTimeoutMs, 1, durationMsMax);
  checkInteger(
    "awarenessMaxMultiplier",
    config.awarenessMaxMultiplier,
    1,
    awarenessMaxMultiplierMax,
  );
  checkInteger("packetBytesMax", config.packetBytesMax, 64, packetBytesMaxMax);
  checkInteger("packetOverheadBytes", config.packetOverheadBytes, 0, config.packetBytesMax - 64);
  checkInteger("broadcastQueueMax", config.broadcastQueueMax, 1, broadcastQueueMaxMax);
  checkInteger("membersMax", config.membersMax, 1, membersMaxMax);
  checkInteger("relaysMax", config.relaysMax, 0, queueMaxMax);
  checkInteger("streamsMax", config.streamsMax, 1, queueMaxMax);
  checkInteger("outputsMax", config.outputsMax, 16, queueMaxMax);
  if (config.probeTimeoutMs >= config.probeIntervalMs) {
    throw new RangeError(
      "Cannot use SWIM config as probeTimeoutMs must be < probeIntervalMs: " +
        `current values are ${config.probeTimeoutMs} and ${config.probeIntervalMs}`,
    );
  }
}
