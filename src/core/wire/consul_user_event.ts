/**
 * Consul's user events on Serf (Consul `agent/user_event.go`, `agent/consul/internal_endpoint.go`
 * `EventFire`, `client.go` `localEvent`): `/v1/event/fire/<name>` becomes a Serf user event named
 * `consul:event:<name>`, never coalesced, whose payload is the msgpack of Consul's `UserEvent`
 * struct with its short codec tags (`ID`, `n`, `p`, `nf`, `sf`, `tf`, `v`); `LTime` is not
 * encoded (`codec:"-"`): receivers take the Serf event's clock.
 *
 * @module
 */

import { decodeBody } from "./codec.ts";
import { MsgpackWriter } from "./msgpack_writer.ts";
import { bytesCodec, intCodec, stringCodec, structCodec, type ValueCodec } from "./struct_codec.ts";

/** The Serf event name prefix of Consul user events (`userEventPrefix`). */
export const consulUserEventPrefix = "consul:event:";
/** Every Serf event name Consul itself sends starts with this; others are not Consul's. */
export const consulEventNamespace = "consul:";
/** The highest `UserEvent` version Consul understands (`userEventMaxVersion`). */
export const consulUserEventVersion = 1;

/** Consul's `UserEvent` as it travels inside a Serf user event. */
export interface ConsulUserEvent {
  /** A UUID made by the firing agent. */
  id: string;
  /** The name without the `consul:event:` prefix. */
  name: string;
  /** Opaque payload; empty when none (`omitempty`). */
  payload: Uint8Array;
  /** Regular expression on node names; empty for all. */
  nodeFilter: string;
  /** Regular expression on service names; empty for all. */
  serviceFilter: string;
  /** Regular expression on service tags (only with `serviceFilter`). */
  tagFilter: string;
  /** `userEventMaxVersion` of the sender. */
  version: number;
}

const consulUserEventCodec: ValueCodec<ConsulUserEvent> = structCodec<ConsulUserEvent>({
  id: { go: "ID", codec: stringCodec },
  name: { go: "n", codec: stringCodec },
  payload: { go: "p", codec: bytesCodec, omitEmpty: true },
  nodeFilter: { go: "nf", codec: stringCodec, omitEmpty: true },
  serviceFilter: { go: "sf", codec: stringCodec, omitEmpty: true },
  tagFilter: { go: "tf", codec: stringCodec, omitEmpty: true },
  version: { go: "v", codec: intCodec(-0x8000_0000, 0x7fff_ffff) },
});

/**
 * Encodes the payload of the Serf user event Consul fires for `event`.
 *
 * @example
 * ```ts
 * const bytes = encodeConsulUserEvent({ id, name: "deploy", payload: new Uint8Array(0),
 *   nodeFilter: "", serviceFilter: "", tagFilter: "", version: 1 });
 * // fire it as serf.userEvent("consul:event:deploy", bytes, false, nowMs)
 * ```
 */
export function encodeConsulUserEvent(event: ConsulUserEvent): Uint8Array {
  const writer = new MsgpackWriter();
  consulUserEventCodec.write(writer, event);
  return writer.finish();
}

/**
 * Decodes the payload of a `consul:event:` Serf user event.
 *
 * @throws SyntaxError when the bytes are not a msgpack `UserEvent`
 */
export function decodeConsulUserEvent(bytes: Uint8Array): ConsulUserEvent {
  return decodeBody(consulUserEventCodec, bytes, 0);
}
