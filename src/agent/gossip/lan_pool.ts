/**
 * The agent's gossip pools: a {@link SerfPool} (Serf on memberlist, with Vivaldi) advertising
 * Consul's tags, with `-encrypt`, retry-join, the member snapshot and the keyring file under
 * `<data-dir>/serf`, and the member list `/v1/agent/members` shows: Serf's statuses as Consul's
 * codes (1 alive, 2 leaving, 3 left, 4 failed). The LAN pool (every agent, `bindAddr:serfLan`,
 * memberlist's LAN timings, `local.snapshot`, `local.keyring`) and the servers' WAN pool
 * (`bindAddr:serfWan`, memberlist's WAN timings, `remote.snapshot`, `remote.keyring`; see
 * `wan_pool.ts`) are the same class with a different {@link PoolProfile}.
 *
 * @module
 */

import type { Address, Runtime } from "../../runtime.ts";
import { defaultLanConfig, defaultWanConfig, type SwimConfig } from "../../core/swim/mod.ts";
import {
  defaultSerfConfig,
  type KeyringOperation,
  type KeyringTallyResult,
  type MemberInfo,
  memberStatusCode,
} from "../../core/serf/mod.ts";
import type { Coordinate } from "../../core/vivaldi/mod.ts";
import { encodeBase64 } from "../../core/base64.ts";
import { bytesToIp } from "./_ip.ts";
import {
  decodeGossipKey,
  encodeKeyringFile,
  lanKeyringFileName,
  loadKeyring,
  wanKeyringFileName,
} from "./keyring_file.ts";
import type { GossipLog, TransportStats } from "./memberlist_transport.ts";
import { parseJoinAddress, RetryJoin } from "./retry_join.ts";
import { type PoolUserEvent, SerfPool, type SerfPoolStats } from "./serf_pool.ts";

/** Consul's LAN gossip port (joins without a port use our own bound port, as memberlist). */
export const serfLanPortDefault = 8301;
/**
 * The longest a graceful leave takes: the leave intent and memberlist's leave (each bounded by
 * {@link leaveBroadcastTimeoutMs}) and Serf's 1 s propagation delay, with some slack.
 */
export const leaveTimeoutMs = 6_000;
/** How long each step of a graceful leave waits for its broadcast (Serf's is 5 s). */
export const leaveBroadcastTimeoutMs = 2_000;
/** The snapshot's directory under the data dir (Consul's `serf/local.snapshot`). */
export const snapshotDirName = "serf";
/** Consul's WAN gossip port. */
export const serfWanPortDefault = 8302;

/** Which gossip pool: every agent's LAN pool, or the servers' WAN pool. */
export type PoolKind = "lan" | "wan";

/** What tells the LAN and WAN pools apart (Consul's `setupSerf` with `wan` true or false). */
export interface PoolProfile {
  /** Which pool. */
  kind: PoolKind;
  /** How logs and errors name it. */
  label: "LAN" | "WAN";
  /** Port of join addresses given without one, before the pool is bound. */
  portDefault: number;
  /** memberlist timings: `DefaultLANConfig` or `DefaultWANConfig`. */
  swimConfig(): SwimConfig;
  /** The member snapshot's file name under `<data-dir>/serf`. */
  snapshotFileName: string;
  /** The keyring file's name under `<data-dir>/serf`. */
  keyringFileName: string;
}

/** Returns the profile of the LAN or WAN pool. */
export function poolProfile(kind: PoolKind): PoolProfile {
  return kind === "lan"
    ? {
      kind,
      label: "LAN",
      portDefault: serfLanPortDefault,
      swimConfig: defaultLanConfig,
      snapshotFileName: "local.snapshot",
      keyringFileName: lanKeyringFileName,
    }
    : {
      kind,
      label: "WAN",
      portDefault: serfWanPortDefault,
      swimConfig: defaultWanConfig,
      snapshotFileName: "remote.snapshot",
      keyringFileName: wanKeyringFileName,
    };
}

/** A member as `/v1/agent/members` needs it. */
export interface PoolMember {
  /** Node name. */
  name: string;
  /** Gossip address. */
  addr: string;
  /** Gossip port. */
  port: number;
  /** Serf tags from the member's meta. */
  tags: Record<string, string>;
  /** Consul's status: 1 alive, 2 leaving, 3 left, 4 failed. */
  status: number;
  /** memberlist protocol min, max, current; delegate min, max, current (`Vsn`). */
  versions: number[];
}

/** How to start a {@link LanPool}. */
export interface LanPoolOptions {
  /** Which pool: LAN timings and files, or WAN ones. @default {"lan"} */
  kind?: PoolKind;
  /** Member name (`<node>.<dc>` in the WAN pool). */
  nodeName: string;
  /** Where to bind UDP and TCP (port 0 picks one). */
  bind: Address;
  /** The IP literal others reach us at. */
  advertiseHost: string;
  /** Our Serf tags. */
  tags: Record<string, string>;
  /** `-encrypt`: base64 of a 16, 24 or 32-byte key. */
  encrypt?: string;
  /** `-retry-join` addresses: `host` (our own gossip port), `host:port`, `[v6]:port`. */
  retryJoin?: readonly string[];
  /**
   * `-data-dir`: the member snapshot and the keyring file go under `<dataDir>/serf`; none
   * keeps neither (keyring changes then last until the agent stops).
   */
  dataDir?: string;
  /** `retry_interval`: the longest wait between retry-join attempts. @default {30 s} */
  retryIntervalMs?: number;
  /** `retry_max`: retry-join attempts before giving up; 0 retries forever. @default {0} */
  retryMax?: number;
  /** Called once when retry-join gave up after `retryMax` attempts (Consul's agent exits). */
  onRetryJoinGiveUp?(reason: string): void;
  /**
   * `reconnect_timeout`: how long a failed member is retried before it is reaped.
   * @default {72 h} (Serf's)
   */
  reconnectTimeoutMs?: number;
  /** SWIM timings. @default {the profile's: defaultLanConfig() or defaultWanConfig()} */
  config?: SwimConfig;
  /** Where to log. */
  log: GossipLog;
  /** Receives every Serf user event, ours included. */
  userEvent?(event: PoolUserEvent): void;
}

/** One gossip pool of an agent: the LAN pool, or (with `kind: "wan"`) the WAN pool. */
export class LanPool {
  readonly #pool: SerfPool;
  readonly #profile: PoolProfile;
  readonly #retryJoin: RetryJoin | undefined;
  #stopping: Promise<void> | undefined;

  private constructor(pool: SerfPool, profile: PoolProfile, retryJoin: RetryJoin | undefined) {
    this.#pool = pool;
    this.#profile = profile;
    this.#retryJoin = retryJoin;
  }

  /**
   * Loads the keyring, binds the pool, rejoins from the snapshot, and starts retry-join.
   *
   * @throws RangeError for a bad key, keyring file or join address; Error when the port is taken
   */
  static async start(runtime: Runtime, options: LanPoolOptions): Promise<LanPool> {
    const profile = poolProfile(options.kind ?? "lan");
    // Checked before binding; a join address without a port takes our own bound port, as
    // memberlist's resolveAddr takes its BindPort.
    for (const text of options.retryJoin ?? []) parseJoinAddress(text, profile.portDefault);
    const files = options.dataDir === undefined
      ? undefined
      : await runtime.files(`${options.dataDir}/${snapshotDirName}`);
    const loaded = await loadKeyring(files, profile.keyringFileName, options.encrypt);
    if (loaded.note !== undefined) options.log.info(loaded.note);
    const keyringFiles = loaded.keys.length === 0 ? undefined : files;
    const swimConfig = options.config ?? profile.swimConfig();
    const pool = await SerfPool.start(runtime, {
      nodeName: options.nodeName,
      bind: options.bind,
      advertiseHost: options.advertiseHost,
      tags: options.tags,
      keys: loaded.keys,
      swimConfig,
      serfConfig: {
        ...defaultSerfConfig(),
        ...(options.reconnectTimeoutMs === undefined
          ? {}
          : { reconnectTimeoutMs: options.reconnectTimeoutMs }),
        broadcastTimeoutMs: leaveBroadcastTimeoutMs,
        // Serf times queries (keyring ones too) by memberlist's gossip interval: 500 ms on WAN.
        gossipIntervalMs: swimConfig.gossipIntervalMs,
      },
      snapshotFiles: files,
      snapshotFileName: profile.snapshotFileName,
      log: options.log,
      userEvent: options.userEvent,
      persistKeyring: keyringFiles === undefined
        ? undefined
        : (keys) => keyringFiles.replace(profile.keyringFileName, encodeKeyringFile(keys)),
    });
    const joinAddresses = (options.retryJoin ?? []).map((text) =>
      parseJoinAddress(text, pool.address.port)
    );
    const retryJoin = joinAddresses.length === 0 ? undefined : new RetryJoin(runtime, {
      addresses: joinAddresses,
      join: (addresses) => pool.join(addresses),
      log: options.log,
      intervalMs: options.retryIntervalMs,
      maxAttempts: options.retryMax,
      onGiveUp: options.onRetryJoinGiveUp,
    });
    retryJoin?.start();
    const where = `${pool.address.host}:${pool.address.port}`;
    const encrypted = loaded.keys.length > 0 ? ", encrypted" : "";
    options.log.info(`gossip: ${profile.label} pool on ${where} (UDP and TCP${encrypted})`);
    return new LanPool(pool, profile, retryJoin);
  }

  /** Which pool this is. */
  get kind(): PoolKind {
    return this.#profile.kind;
  }

  /** Our member name in this pool. */
  get name(): string {
    return this.#pool.name;
  }

  /** The bound gossip address. */
  get address(): Address {
    return this.#pool.address;
  }

  /** Serf's members, ourselves first, then by name; left and failed ones until reaped. */
  members(): PoolMember[] {
    const self = this.#pool.name;
    return this.#pool.members().map(toPoolMember).sort((a, b) =>
      a.name === self ? -1 : b.name === self ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    );
  }

  /**
   * Joins through `addresses` now (`/v1/agent/join`).
   *
   * @returns how many answered, and why the others did not
   * @throws RangeError for an address that is not an IP literal
   */
  join(addresses: readonly string[]): Promise<{ joined: number; errors: string[] }> {
    const port = this.#pool.address.port;
    const parsed = addresses.map((text) => parseJoinAddress(text, port));
    return this.#pool.join(parsed);
  }

  /**
   * Fires a Serf user event to the cluster; it comes back through the `userEvent` option.
   *
   * @returns the event's clock
   * @throws RangeError when name and payload exceed Serf's 512-byte limit, or we are leaving
   */
  userEvent(name: string, payload: Uint8Array, coalesce: boolean): number {
    return this.#pool.userEvent(name, payload, coalesce);
  }

  /**
   * Removes a member (`/v1/agent/force-leave/:node`): a leave intent on its behalf, so a failed
   * member shows as left at once; `prune` erases it from the member list too.
   *
   * @throws Error when no member has that name
   */
  forceLeave(name: string, prune: boolean): void {
    if (!this.#pool.members().some((member) => member.name === name)) {
      throw new Error(`Cannot force-leave "${name}": no member has that name`);
    }
    this.#pool.forceLeave(name, prune);
  }

  /**
   * The gossip keys installed here, base64, primary first; none when gossip is plaintext (no
   * `-encrypt` and no keyring file).
   */
  keys(): readonly string[] {
    return (this.#pool.keys() ?? []).map(encodeBase64);
  }

  /**
   * Runs a keyring operation on every member of the pool (Serf's internal queries
   * `_serf_install-key`, `_serf_use-key`, `_serf_remove-key`, `_serf_list-keys`): each member
   * applies it to its own keyring and answers; the answers are added up as Serf's `KeyManager`.
   *
   * @param operation install, use, remove or list
   * @param key base64 key; ignored for list
   * @param options `relayFactor`: members each answer is also relayed through (Consul's 0..5)
   * @returns the totals and Serf's verdict (`error` is "" when every member succeeded)
   * @throws RangeError for a key that is not base64 of 16, 24 or 32 bytes, or when gossip is
   *   plaintext here (there is no keyring to change)
   */
  keyringOperation(
    operation: KeyringOperation,
    key: string,
    options: { relayFactor?: number } = {},
  ): Promise<KeyringTallyResult> {
    if (this.#pool.keys() === undefined) return Promise.reject(this.#plaintext());
    let bytes: Uint8Array | undefined;
    try {
      bytes = operation === "list" ? undefined : decodeGossipKey(key, "the key");
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#pool.keyringQuery(operation, bytes, options);
  }

  /**
   * This agent's own keys in Consul's list shape, without asking the cluster
   * (`?local-only`): each key counted once, out of one node.
   *
   * @throws RangeError when gossip is plaintext here
   */
  localKeyring(): KeyringTallyResult {
    const keys = this.keys();
    if (keys.length === 0) throw this.#plaintext();
    return {
      numNodes: 1,
      numResp: 1,
      numErr: 0,
      messages: {},
      keys: Object.fromEntries(keys.map((key) => [key, 1])),
      primaryKeys: { [keys[0]]: 1 },
      error: "",
    };
  }

  #plaintext(): RangeError {
    return new RangeError(
      `Cannot use the keyring: gossip encryption is off in the ${this.#profile.label} pool ` +
        "(start the agents with -encrypt)",
    );
  }

  /** Our Vivaldi coordinate, moved by every acked probe. */
  coordinate(): Coordinate {
    return this.#pool.coordinate();
  }

  /** The coordinate `name` last sent us (our own for our name), if any. */
  peerCoordinate(name: string): Coordinate | undefined {
    return name === this.#pool.name ? this.#pool.coordinate() : this.#pool.peerCoordinate(name);
  }

  /** Counters of the pool, its transport, its cores and retry-join. */
  stats(): SerfPoolStats & { retryJoinAttempts: number } {
    return { ...this.#pool.stats(), retryJoinAttempts: this.#retryJoin?.attempts ?? 0 };
  }

  /**
   * Leaves gracefully (Serf's leave intent first, so peers list us as left; bounded by
   * {@link leaveTimeoutMs}) and closes the sockets. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#retryJoin?.stop();
      await this.#pool.leave(leaveTimeoutMs);
      await this.#pool.close();
    })();
    return this.#stopping;
  }
}

/** Re-exported for callers that show counters. */
export type { TransportStats };

function toPoolMember(member: MemberInfo): PoolMember {
  let addr = "";
  try {
    addr = bytesToIp(member.address);
  } catch {
    // A malformed address stays empty rather than hiding the member.
  }
  return {
    name: member.name,
    addr,
    port: member.port,
    tags: Object.fromEntries(member.tags),
    status: memberStatusCode(member.status),
    versions: [...member.versions],
  };
}
