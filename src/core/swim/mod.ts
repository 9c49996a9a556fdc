/**
 * SWIM + Lifeguard membership and failure detection, compatible with HashiCorp memberlist
 * 0.2.2 (gossip-wire.md §6): a synchronous core fed decoded messages and the time, giving back
 * packets to send, TCP exchanges to run and membership events. The shell encodes with
 * `src/core/wire` and carries the outputs to the Runtime's UDP and TCP sockets.
 *
 * @example
 * ```ts
 * import { defaultLanConfig, Swim } from "./mod.ts";
 * import { SeededRandom } from "../random.ts";
 *
 * const address = { address: Uint8Array.of(127, 0, 0, 2), port: 8301 };
 * const swim = new Swim({ name: "a", address, random: new SeededRandom(1), config: defaultLanConfig() }, 0);
 * swim.join([{ address: Uint8Array.of(127, 0, 0, 3), port: 8301 }], 0);
 * const output = swim.poll(); // { type: "sendStream", message: { type: "pushPull", join: true, ... } }
 * ```
 *
 * @module
 */

export * from "./config.ts";
export * from "./messages.ts";
export * from "./awareness.ts";
export * from "./suspicion.ts";
export * from "./broadcast_queue.ts";
export * from "./message_bytes.ts";
export * from "./swim.ts";
