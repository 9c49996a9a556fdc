// Goal: Consul's UserEvent travels inside a Serf user event as Consul encodes it: a msgpack map
// keyed by its codec tags (ID, n, p, nf, sf, tf, v), empty optional fields left out, LTime not
// encoded. Method: encode, check the keys present, decode back; decode a map in another order
// with an unknown key, as another encoder may write it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  decodeConsulUserEvent,
  encodeConsulUserEvent,
  MsgpackReader,
  MsgpackWriter,
} from "../../../src/core/wire/mod.ts";

function keysOf(bytes: Uint8Array): string[] {
  const reader = new MsgpackReader(bytes);
  const keys: string[] = [];
  const count = reader.readMapHeader();
  for (let i = 0; i < count; i += 1) {
    keys.push(reader.readString());
    reader.skip();
  }
  return keys;
}

describe("Consul user event codec", () => {
  it("encodeConsulUserEvent() writes Consul's codec tags and omits empty optional fields", () => {
    const event = {
      id: "b54fe110-7af5-cafc-d1fb-afc8ba432b1c",
      name: "deploy",
      payload: new Uint8Array(0),
      nodeFilter: "",
      serviceFilter: "web",
      tagFilter: "",
      version: 1,
    };
    const bytes = encodeConsulUserEvent(event);
    assert.deepEqual(keysOf(bytes).sort(), ["ID", "n", "sf", "v"]);
    assert.deepEqual(decodeConsulUserEvent(bytes), event);
  });

  it("decodeConsulUserEvent() reads any key order and skips unknown keys", () => {
    const writer = new MsgpackWriter();
    writer.writeMapHeader(4);
    writer.writeString("v");
    writer.writeInt(1);
    writer.writeString("future");
    writer.writeBool(true);
    writer.writeString("p");
    writer.writeRaw(new TextEncoder().encode("v2"));
    writer.writeString("n");
    writer.writeString("release");
    const event = decodeConsulUserEvent(writer.finish());
    assert.equal(event.name, "release");
    assert.equal(new TextDecoder().decode(event.payload), "v2");
    assert.equal(event.id, "");
    assert.equal(event.version, 1);
    assert.throws(() => decodeConsulUserEvent(Uint8Array.of(0xc1)), SyntaxError);
  });
});
