/**
 * What goes into and comes out of the SWIM core: decoded memberlist messages in, messages to
 * send, TCP exchanges to run and membership events out (sans-I/O, quinn-proto style).
 *
 * Contract for the shell:
 * - `sendPacket`: encode each message (`encodeMessage`), wrap two or more in one compound
 *   (`encodeCompound`), optionally compress, add the CRC for peers speaking protocol 5 when
 *   `node` is set, encrypt, and send one UDP datagram to `to`. Best effort; losses are fine.
 * - `sendStream`: dial `to`, write `message` (`encodePushPull`, or `[0x00]` + ping), read one
 *   reply before `deadlineAtMs`, then report it with `{ type: "streamReply", requestId }` or
 *   `{ type: "streamFailed", requestId }`. Exactly one report per request.
 * - `replyStream`: write `message` on the incoming connection `streamId`, then close it.
 * - `memberChanged`, `memberRemoved`, `userMessage`, `pingComplete`, `remoteState`, `conflict`,
 *   `joinFinished` and `leaveBroadcastDone` are events for the layer above (Serf, Vivaldi) and
 *   need no reply.
 *
 * @module
 */

import type { MemberlistMessage, PushPull, StreamMessage } from "../wire/mod.ts";

/** A member's gossip address: IPv4 (4 bytes) or IPv6 (16 bytes) and a port. */
export interface SwimAddress {
  /** Raw address bytes, as memberlist carries them (`Addr`). */
  address: Uint8Array;
  /** UDP and TCP port. */
  port: number;
}

/** memberlist's member states; `left` is a graceful leave (dead with From = Node). */
export type MemberState = "alive" | "suspect" | "dead" | "left";

/** A member as this node sees it. */
export interface MemberSnapshot {
  /** Unique member name. */
  name: string;
  /** Gossip address. */
  address: Uint8Array;
  /** Gossip port. */
  port: number;
  /** Delegate metadata: Serf tags. */
  meta: Uint8Array;
  /** `Vsn`: 6 protocol version bytes. */
  versions: Uint8Array;
  /** Incarnation; the member itself raises it to refute or to publish new meta. */
  incarnation: number;
  /** Current state. */
  state: MemberState;
  /** When this node last saw the state change. */
  stateChangedAtMs: number;
}

/** An input for `Swim.handle()`. */
export type SwimInput =
  /** A UDP packet, unwrapped and decoded (`unwrapPacket`, `decodeMessage` per part). */
  | { type: "packet"; from: SwimAddress; messages: readonly MemberlistMessage[] }
  /** A TCP request read from an incoming connection: push/pull, ping or user message. */
  | { type: "stream"; streamId: number; from: SwimAddress; message: StreamMessage }
  /** The reply to our `sendStream` request. */
  | { type: "streamReply"; requestId: number; message: StreamMessage }
  /** Our `sendStream` request failed: dial error, deadline, `err` reply, bad bytes. */
  | { type: "streamFailed"; requestId: number; reason: string };

/** What the SWIM core asks of its shell, or tells the layer above. */
export type SwimOutput =
  | {
    type: "sendPacket";
    to: SwimAddress;
    /** The destination member when known (for the CRC decision), else `undefined`. */
    node: string | undefined;
    /** The main message first, then piggybacked broadcasts. */
    messages: MemberlistMessage[];
  }
  | {
    type: "sendStream";
    requestId: number;
    to: SwimAddress;
    node: string | undefined;
    message: StreamMessage;
    deadlineAtMs: number;
  }
  | { type: "replyStream"; streamId: number; message: StreamMessage }
  | ({ type: "memberChanged"; previous: MemberState | undefined } & MemberSnapshot)
  | { type: "memberRemoved"; name: string }
  | { type: "userMessage"; payload: Uint8Array }
  /** A direct probe was acked in time: the round trip and the ack's payload (for Vivaldi). */
  | { type: "pingComplete"; name: string; rttMs: number; payload: Uint8Array | undefined }
  | { type: "remoteState"; userState: Uint8Array; join: boolean }
  | { type: "conflict"; name: string; known: SwimAddress; claimed: SwimAddress }
  | { type: "joinFinished"; requestId: number; to: SwimAddress; ok: boolean; reason?: string }
  | { type: "leaveBroadcastDone" };

/** The push/pull message the core exchanges; `userState` comes from `SwimOptions.userState`. */
export type PushPullMessage = { type: "pushPull" } & PushPull;

/** Returns a stable text key for an address, such as `"127.0.0.2:7946"`. */
export function addressKey(address: SwimAddress): string {
  return `${address.address.join(".")}:${address.port}`;
}
