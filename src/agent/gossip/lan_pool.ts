/**
 * The agent's LAN gossip pool: a {@link SerfPool} (Serf on memberlist, with Vivaldi) on
 * `bindAddr:serfLan` advertising Consul's tags, with `-encrypt`, `-retry-join` and the member
 * snapshot in `<data-dir>/serf/local.snapshot`, and the member list `/v1/agent/members` shows:
 * Serf's statuses as Consul's codes (1 alive, 2 leaving, 3 left, 4 failed).
 *
 * @module
 */

import type { Address, Runtime } from "../../runtime.ts";
import { defaultLanConfig, type SwimConfig } from "../../core/swim/mod.ts";
import { defaultSerfConfig, type MemberInfo, memberStatusCode } from "../../core/serf/mod.ts";
import type { Coordinate } from "../../core/vivaldi/mod.ts";
import { validateKey } from "../../core/wire/mod.ts";
import { encodeBase64 } from "../../core/base64.ts";
import { bytesToIp } from "./_ip.ts";
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
  /** Node name. */
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
  /** `-data-dir`: the member snapshot goes under `<dataDir>/serf`; none keeps no snapshot. */
  dataDir?: string;
  /** SWIM timings. @default {defaultLanConfig()} */
  config?: SwimConfig;
  /** Where to log. */
  log: GossipLog;
  /** Receives every Serf user event, ours included. */
  userEvent?(event: PoolUserEvent): void;
}

/** The LAN pool of one agent. */
export class LanPool {
  readonly #pool: SerfPool;
  readonly #retryJoin: RetryJoin | undefined;
  readonly #keys: readonly string[];
  #stopping: Promise<void> | undefined;

  private constructor(
    pool: SerfPool,
    retryJoin: RetryJoin | undefined,
    keys: readonly string[],
  ) {
    this.#pool = pool;
    this.#retryJoin = retryJoin;
    this.#keys = keys;
  }

  /**
   * Binds the pool, rejoins from the snapshot, and starts retry-join.
   *
   * @throws RangeError for a bad key or join address; Error when the port is taken
   */
  static async start(runtime: Runtime, options: LanPoolOptions): Promise<LanPool> {
    const keys = options.encrypt === undefined ? [] : [decodeKey(options.encrypt)];
    // Checked before binding; a join address without a port takes our own bound port, as
    // memberlist's resolveAddr takes its BindPort.
    for (const text of options.retryJoin ?? []) parseJoinAddress(text, serfLanPortDefault);
    const snapshotFiles = options.dataDir === undefined
      ? undefined
      : await runtime.files(`${options.dataDir}/${snapshotDirName}`);
    const pool = await SerfPool.start(runtime, {
      nodeName: options.nodeName,
      bind: options.bind,
      advertiseHost: options.advertiseHost,
      tags: options.tags,
      keys,
      swimConfig: options.config ?? defaultLanConfig(),
      serfConfig: { ...defaultSerfConfig(), broadcastTimeoutMs: leaveBroadcastTimeoutMs },
      snapshotFiles,
      log: options.log,
      userEvent: options.userEvent,
    });
    const joinAddresses = (options.retryJoin ?? []).map((text) =>
      parseJoinAddress(text, pool.address.port)
    );
    const retryJoin = joinAddresses.length === 0 ? undefined : new RetryJoin(runtime, {
      addresses: joinAddresses,
      join: (addresses) => pool.join(addresses),
      log: options.log,
    });
    retryJoin?.start();
    const where = `${pool.address.host}:${pool.address.port}`;
    const encrypted = keys.length > 0 ? ", encrypted" : "";
    options.log.info(`gossip: LAN pool on ${where} (UDP and TCP${encrypted})`);
    const installed = options.encrypt === undefined ? [] : [encodeBase64(keys[0])];
    return new LanPool(pool, retryJoin, installed);
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
   * The installed gossip keys, base64, primary first; none without `-encrypt`. The keyring is
   * fixed at start: one key, the primary.
   */
  keys(): readonly string[] {
    return this.#keys;
  }

  /** Our Vivaldi coordinate, moved by every acked probe. */
  coordinate(): Coordinate {
    return this.#pool.coordinate();
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

function decodeKey(base64: string): Uint8Array {
  let key: Uint8Array;
  try {
    key = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  } catch {
    throw new RangeError("Cannot use -encrypt: the key is not base64");
  }
  validateKey(key);
  return key;
}

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
