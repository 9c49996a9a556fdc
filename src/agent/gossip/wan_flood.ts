/**
 * Flood joins (Consul's `agent/consul/flood.go`): every server of a datacenter belongs in the
 * WAN pool, so a server that sees, in its LAN pool, a server of its own datacenter missing from
 * the WAN pool joins it there, at the LAN address and the port of its `wan_join_port` tag (our
 * own WAN port when the tag is absent, as Consul). Then `-retry-join-wan` on one server of a
 * datacenter is enough for all of them.
 *
 * Consul floods every 60 s and whenever a LAN member joins; this checks the member lists (in
 * memory, cheap) every {@link floodCheckIntervalMs} and tries each missing server at most once
 * per {@link floodRetryIntervalMs}, which gives the same promptness with bounded work.
 *
 * @module
 */

import type { Runtime } from "../../runtime.ts";
import type { LanPool, PoolMember } from "./lan_pool.ts";
import type { GossipLog } from "./memberlist_transport.ts";
import { wanMemberName } from "./wan_pool.ts";

/** How often the LAN and WAN member lists are compared. */
export const floodCheckIntervalMs = 5_000;
/** A missing server is tried again at most this often (Consul's flood interval). */
export const floodRetryIntervalMs = 60_000;
/** Joins one check starts at most; the rest wait for the next check. */
export const floodJoinsPerCheckMax = 8;
/** The LAN tag that carries a server's WAN port (Consul's `wan_join_port`). */
export const wanJoinPortTag = "wan_join_port";

/** How to run a {@link WanFlooder}. */
export interface WanFlooderOptions {
  /** The LAN pool's members now. */
  lanMembers(): readonly PoolMember[];
  /** The WAN pool to join servers into. */
  wan: LanPool;
  /** Our datacenter: only its servers are flooded in. */
  datacenter: string;
  /** Where to log joins and failures. */
  log: GossipLog;
}

/** Joins this datacenter's servers seen on the LAN into the WAN pool. */
export class WanFlooder {
  readonly #runtime: Runtime;
  readonly #options: WanFlooderOptions;
  readonly #triedAtMs = new Map<string, number>();
  #timer: { cancel(): void } | undefined;
  #running = false;

  constructor(runtime: Runtime, options: WanFlooderOptions) {
    this.#runtime = runtime;
    this.#options = options;
  }

  /** Checks now and then every {@link floodCheckIntervalMs} until `stop()`. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = this.#runtime.timers.every(floodCheckIntervalMs, () => void this.flood());
    void this.flood();
  }

  /** Stops checking; a join in flight finishes on its own. */
  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /**
   * Joins the missing servers once (one check).
   *
   * @returns how many servers answered the WAN join
   */
  async flood(): Promise<number> {
    if (this.#running) return 0;
    this.#running = true;
    try {
      const targets = this.#missing().slice(0, floodJoinsPerCheckMax);
      let joined = 0;
      for (const { name, address } of targets) {
        this.#triedAtMs.set(name, this.#runtime.clock.monotonicMs());
        const result = await this.#options.wan.join([address]).catch((error: Error) => ({
          joined: 0,
          errors: [error.message],
        }));
        if (result.joined > 0) {
          joined += 1;
          this.#options.log.info(`gossip: flood-joined "${name}" into the WAN pool at ${address}`);
        } else {
          this.#options.log.warn(
            `gossip: Cannot flood-join "${name}" into the WAN pool at ${address}: ` +
              result.errors.join("; "),
          );
        }
      }
      return joined;
    } finally {
      this.#running = false;
    }
  }

  /** LAN servers of our datacenter absent from the WAN pool, not tried recently. */
  #missing(): { name: string; address: string }[] {
    const { datacenter, wan } = this.#options;
    const inWan = new Set(wan.members().filter((m) => m.status !== 3).map((m) => m.name));
    const nowMs = this.#runtime.clock.monotonicMs();
    const missing: { name: string; address: string }[] = [];
    const servers = new Set<string>();
    for (const member of this.#options.lanMembers()) {
      if (member.status !== 1 || member.tags.role !== "consul") continue;
      if (member.tags.dc !== datacenter || member.addr === "") continue;
      const name = wanMemberName(member.name, datacenter);
      servers.add(name);
      if (name === wan.name || inWan.has(name)) continue;
      const triedAtMs = this.#triedAtMs.get(name);
      if (triedAtMs !== undefined && nowMs - triedAtMs < floodRetryIntervalMs) continue;
      const tagged = member.tags[wanJoinPortTag];
      const port = tagged !== undefined && /^\d{1,5}$/.test(tagged) && Number(tagged) > 0
        ? Number(tagged)
        : wan.address.port;
      const host = member.addr.includes(":") ? `[${member.addr}]` : member.addr;
      missing.push({ name, address: `${host}:${port}` });
    }
    // Forget servers that joined or left the LAN, so the map stays as small as the cluster.
    for (const name of [...this.#triedAtMs.keys()]) {
      if (!servers.has(name) || inWan.has(name)) this.#triedAtMs.delete(name);
    }
    return missing;
  }
}
