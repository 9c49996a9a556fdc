/**
 * Vivaldi network coordinates, compatible with HashiCorp Serf's `coordinate` package
 * (gossip-wire.md §12): each node keeps an 8-dimensional coordinate with a height, an error
 * estimate and an adjustment term, moved by every round-trip sample to a peer, so that the
 * distance between two coordinates estimates their round-trip time in seconds. Also the
 * orderings the HTTP layer needs: `?near=` and `/v1/catalog/datacenters`.
 *
 * The shell feeds {@link VivaldiClient.update} from direct UDP acks (the peer's coordinate is
 * the ack payload, `decodePingPayload` in `src/core/wire/serf_codec.ts`; the round-trip time is
 * the time the ack was read minus the time just before the ping was sent), puts
 * {@link VivaldiClient.coordinate} in its own acks (`encodePingPayload`), and keeps the last
 * coordinate received from each member for `/v1/coordinate/*` and `cairn rtt`.
 *
 * @example
 * ```ts
 * import { defaultVivaldiConfig, distanceSeconds, VivaldiClient } from "./mod.ts";
 * import { SeededRandom } from "../random.ts";
 *
 * const a = new VivaldiClient(defaultVivaldiConfig(), new SeededRandom(1));
 * const b = new VivaldiClient(defaultVivaldiConfig(), new SeededRandom(2));
 * for (let i = 0; i < 100; i += 1) {
 *   a.update("b", b.coordinate(), 20);
 *   b.update("a", a.coordinate(), 20);
 * }
 * distanceSeconds(a.coordinate(), b.coordinate()); // about 0.020
 * ```
 *
 * @module
 */

export * from "./config.ts";
export * from "./coordinate.ts";
export * from "./latency_filter.ts";
export * from "./vivaldi_client.ts";
export * from "./distance_sort.ts";
