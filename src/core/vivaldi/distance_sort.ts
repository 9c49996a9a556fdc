/**
 * Orderings by estimated round-trip time, for the HTTP layer: `?near=` sorting of nodes,
 * services and health results (Consul `agent/consul/rtt.go`), and the order of
 * `/v1/catalog/datacenters` (Consul `agent/router/router.go` `GetDatacentersByDistance`).
 *
 * @module
 */

import { areCoordinatesCompatible, type Coordinate, distanceSeconds } from "./coordinate.ts";

/**
 * Returns the estimated round-trip time between `a` and `b` in seconds, or `Infinity` when
 * either is missing or their dimensionalities differ (Consul `lib.ComputeDistance`, which puts
 * unknown distances at positive infinity).
 *
 * @param a one coordinate, if known
 * @param b another, if known
 * @returns seconds, or `Infinity`
 */
export function distanceOrInfinitySeconds(
  a: Coordinate | undefined,
  b: Coordinate | undefined,
): number {
  if (a === undefined || b === undefined || !areCoordinatesCompatible(a, b)) return Infinity;
  return distanceSeconds(a, b);
}

function compareNumbers(a: number, b: number): number {
  // Not `a - b`: Infinity - Infinity is NaN.
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Returns `items` ordered by estimated round-trip time from `origin`, nearest first, as Consul
 * sorts for `?near=`. Items without a coordinate go last; equal distances keep their input order
 * (the sort is stable, as Consul's `sort.Stable`). With no `origin` coordinate the input order is
 * kept, as Consul skips the sort when the source node has no coordinate.
 *
 * @param origin the coordinate of the `near` node, if known
 * @param items what to order; not changed
 * @param coordinateOf the coordinate of one item, or `undefined` when it has none
 * @returns a new array
 * @example
 * ```ts
 * const sorted = sortByDistance(coordinates.get("web-1"), nodes, (n) => coordinates.get(n.Node));
 * ```
 */
export function sortByDistance<T>(
  origin: Coordinate | undefined,
  items: readonly T[],
  coordinateOf: (item: T) => Coordinate | undefined,
): T[] {
  if (origin === undefined) return [...items];
  // Decorate with the distance and the index, so the order never depends on the engine's sort.
  const decorated = items.map((item, index) => ({
    item,
    index,
    distance: distanceOrInfinitySeconds(origin, coordinateOf(item)),
  }));
  decorated.sort((a, b) => compareNumbers(a.distance, b.distance) || a.index - b.index);
  return decorated.map((entry) => entry.item);
}

/** One server seen in a WAN (or other) area, for {@link medianRttByDatacenter}. */
export interface DatacenterServer {
  /** The server's datacenter. */
  datacenter: string;
  /** The server's coordinate in this area, if known. */
  coordinate: Coordinate | undefined;
}

/**
 * Returns, for each datacenter with servers in one area, the median estimated round-trip time
 * from `origin` (this server's coordinate in that area) to its servers, as Consul does before
 * sorting `/v1/catalog/datacenters`. Servers of `localDatacenter` count as 0 s; a server
 * without a usable coordinate counts as `Infinity`. The median is the middle of the sorted
 * values, the upper one for an even count (Go's `rtts[len(rtts)/2]`).
 *
 * @param origin this server's coordinate in the area, if known
 * @param servers the area's servers (left ones already removed)
 * @param localDatacenter the datacenter of this server
 * @returns datacenter name to median seconds
 */
export function medianRttByDatacenter(
  origin: Coordinate | undefined,
  servers: readonly DatacenterServer[],
  localDatacenter: string,
): Map<string, number> {
  const rtts = new Map<string, number[]>();
  for (const server of servers) {
    const rtt = server.datacenter === localDatacenter
      ? 0
      : distanceOrInfinitySeconds(origin, server.coordinate);
    const list = rtts.get(server.datacenter);
    if (list === undefined) rtts.set(server.datacenter, [rtt]);
    else list.push(rtt);
  }
  const medians = new Map<string, number>();
  for (const [datacenter, list] of rtts) {
    list.sort(compareNumbers);
    medians.set(datacenter, list[Math.floor(list.length / 2)]);
  }
  return medians;
}

/**
 * Returns the datacenters of all areas ordered by median round-trip time, nearest first: a
 * datacenter reached through several areas takes its lowest median; equal medians (including
 * `Infinity`) are ordered by name (Consul sorts the names, then stable-sorts by RTT).
 *
 * @param medians one {@link medianRttByDatacenter} result per area
 * @returns datacenter names with their median seconds, nearest first
 * @example
 * ```ts
 * const wan = medianRttByDatacenter(myWanCoordinate, wanServers, "dc1");
 * const names = datacentersByDistance([wan]).map((entry) => entry.datacenter);
 * ```
 */
export function datacentersByDistance(
  medians: readonly ReadonlyMap<string, number>[],
): { datacenter: string; medianRttSeconds: number }[] {
  const lowest = new Map<string, number>();
  for (const area of medians) {
    for (const [datacenter, rtt] of area) {
      const current = lowest.get(datacenter);
      if (current === undefined || rtt < current) lowest.set(datacenter, rtt);
    }
  }
  return [...lowest]
    .map(([datacenter, medianRttSeconds]) => ({ datacenter, medianRttSeconds }))
    .sort((a, b) =>
      compareNumbers(a.medianRttSeconds, b.medianRttSeconds) ||
      (a.datacenter < b.datacenter ? -1 : a.datacenter > b.datacenter ? 1 : 0)
    );
}
