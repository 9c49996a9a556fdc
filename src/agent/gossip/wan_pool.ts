/**
 * The servers' WAN gossip pool (Consul's `setupSerf` with `wan` true): the same
 * {@link LanPool} class as the LAN pool, with memberlist's WAN timings (`DefaultWANConfig`),
 * the port 8302, member names `<node>.<dc>`, `serf/remote.snapshot` and `serf/remote.keyring`.
 * Servers of every datacenter meet in it, so it tells which datacenters exist and how far
 * away they are (`/v1/catalog/datacenters`, `/v1/coordinate/datacenters`).
 *
 * @module
 */

import type { Runtime } from "../../runtime.ts";
import {
  type Coordinate,
  datacentersByDistance,
  medianRttByDatacenter,
} from "../../core/vivaldi/mod.ts";
import { LanPool, type LanPoolOptions, type PoolMember } from "./lan_pool.ts";

/** How to start the WAN pool: the LAN pool's options, with the datacenter for the name. */
export interface WanPoolOptions extends Omit<LanPoolOptions, "kind" | "userEvent"> {
  /** This server's datacenter: the member name is `<nodeName>.<datacenter>`. */
  datacenter: string;
}

/** Returns the WAN member name of a server (Consul's `<node>.<dc>`). */
export function wanMemberName(nodeName: string, datacenter: string): string {
  return `${nodeName}.${datacenter}`;
}

/**
 * Starts the WAN pool of a server.
 *
 * @example
 * ```ts
 * const wan = await startWanPool(runtime, { nodeName: "s1", datacenter: "dc1",
 *   bind: { host: "127.0.0.2", port: 8302 }, advertiseHost: "127.0.0.2", tags, log });
 * wan.name; // "s1.dc1"
 * ```
 * @throws RangeError for a bad key, keyring file or join address; Error when the port is taken
 */
export function startWanPool(runtime: Runtime, options: WanPoolOptions): Promise<LanPool> {
  const { datacenter, ...rest } = options;
  return LanPool.start(runtime, {
    ...rest,
    kind: "wan",
    nodeName: wanMemberName(options.nodeName, datacenter),
  });
}

/** The datacenter a WAN member belongs to: its `dc` tag (Consul's `metadata.IsConsulServer`). */
export function wanMemberDatacenter(member: PoolMember): string | undefined {
  if (member.tags.role !== "consul") return undefined;
  const datacenter = member.tags.dc;
  return datacenter === undefined || datacenter === "" ? undefined : datacenter;
}

/**
 * The datacenters known from the WAN pool, nearest first, as Consul's router sorts
 * `/v1/catalog/datacenters`: by the median estimated round-trip time to each datacenter's
 * servers (servers of our own datacenter count as 0 s; servers without a coordinate as
 * infinitely far), then by name. Left members do not count; failed ones do, as Consul keeps
 * them in its router until they are reaped.
 *
 * @param pool the WAN pool
 * @param datacenter our own datacenter (always listed, first unless another is nearer)
 */
export function wanDatacenters(pool: LanPool, datacenter: string): string[] {
  const servers: { datacenter: string; coordinate: Coordinate | undefined }[] = [];
  for (const member of pool.members()) {
    const dc = wanMemberDatacenter(member);
    if (dc === undefined || member.status === 3) continue;
    servers.push({ datacenter: dc, coordinate: pool.peerCoordinate(member.name) });
  }
  servers.push({ datacenter, coordinate: pool.coordinate() });
  const medians = medianRttByDatacenter(pool.coordinate(), servers, datacenter);
  return datacentersByDistance([medians]).map((entry) => entry.datacenter);
}

/** One datacenter's servers and their WAN coordinates (`/v1/coordinate/datacenters`). */
export interface WanDatacenterCoordinates {
  /** The datacenter. */
  datacenter: string;
  /** Its servers (WAN member names `<node>.<dc>`) with the coordinate known for each. */
  coordinates: { node: string; coord: Coordinate }[];
}

/**
 * The WAN coordinates of every datacenter's servers, as Consul's `Coordinate.ListDatacenters`:
 * one entry per datacenter (sorted by name), each alive server with a coordinate known here.
 *
 * @param pool the WAN pool
 */
export function wanCoordinates(pool: LanPool): WanDatacenterCoordinates[] {
  const byDatacenter = new Map<string, { node: string; coord: Coordinate }[]>();
  for (const member of pool.members()) {
    const dc = wanMemberDatacenter(member);
    if (dc === undefined || member.status !== 1) continue;
    const list = byDatacenter.get(dc) ?? [];
    byDatacenter.set(dc, list);
    const coord = pool.peerCoordinate(member.name);
    if (coord !== undefined) list.push({ node: member.name, coord });
  }
  return [...byDatacenter.keys()].sort().map((datacenter) => ({
    datacenter,
    coordinates: byDatacenter.get(datacenter)!.sort((a, b) => a.node < b.node ? -1 : 1),
  }));
}
