// Goal: the memberlist transport shell carries the SWIM core over real sockets: two transports
// join, see each other, and a graceful leave shows as left; encryption with the same key joins
// and with another key does not; bad datagrams and streams are counted and dropped without
// hurting the transport. Method: in-process transports on 127.0.0.66-69, port 0, the runtime
// that runs the test; raw node:dgram / node:net sockets play the hostile peer.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { detectRuntime } from "../../../runtimes/mod.ts";
import type { Runtime } from "../../../src/runtime.ts";
import {
  type GossipLog,
  MemberlistTransport,
  type MemberlistTransportOptions,
} from "../../../src/agent/gossip/mod.ts";
import { addCrc, encodeMessage, MessageType } from "../../../src/core/wire/mod.ts";

const quiet: GossipLog = { debug() {}, info() {}, warn() {} };
const keyA = Uint8Array.from({ length: 32 }, (_, i) => i);
const keyB = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);

async function waitUntil(what: string, condition: () => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`Cannot wait longer for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function stateOf(transport: MemberlistTransport, name: string): string | undefined {
  return transport.members().find((member) => member.name === name)?.state;
}

describe("MemberlistTransport", () => {
  let runtime: Runtime;
  const open: MemberlistTransport[] = [];
  // Sockets are unref'd: hold the event loop while the tests wait on them.
  const hold = setInterval(() => {}, 1_000);

  async function start(
    name: string,
    host: string,
    options: Partial<MemberlistTransportOptions> = {},
  ): Promise<MemberlistTransport> {
    const transport = await MemberlistTransport.start(runtime, {
      name,
      bind: { host, port: 0 },
      log: quiet,
      ...options,
    });
    open.push(transport);
    return transport;
  }

  before(async () => {
    runtime = await detectRuntime();
  });

  after(async () => {
    await Promise.all(open.map((transport) => transport.close()));
    clearInterval(hold);
  });

  it("MemberlistTransport.join() makes both sides alive; leave() shows as left", async () => {
    const a = await start("a", "127.0.0.66");
    const b = await start("b", "127.0.0.67");
    assert.equal(a.address.host, "127.0.0.66");
    assert.notEqual(a.address.port, 0);
    const result = await b.join([a.address]);
    assert.deepEqual(result, { joined: 1, errors: [] });
    await waitUntil("a to see b alive", () => stateOf(a, "b") === "alive");
    assert.equal(stateOf(b, "a"), "alive");
    assert.equal(await b.leave(3_000), true);
    await waitUntil("a to see b left", () => stateOf(a, "b") === "left");
    await b.close();
  });

  it("MemberlistTransport.join() works with the same key and fails with another", async () => {
    const a = await start("enc-a", "127.0.0.68", { keys: [keyA] });
    const b = await start("enc-b", "127.0.0.69", { keys: [keyA] });
    assert.deepEqual(await b.join([a.address]), { joined: 1, errors: [] });
    await waitUntil("enc-a to see enc-b", () => stateOf(a, "enc-b") === "alive");
    const stranger = await start("enc-c", "127.0.0.69", { keys: [keyB] });
    const refused = await stranger.join([a.address]);
    assert.equal(refused.joined, 0);
    assert.match(refused.errors.join(), /Cannot decrypt/);
    const plain = await start("plain", "127.0.0.69");
    const plainRefused = await plain.join([a.address]);
    assert.equal(plainRefused.joined, 0);
    assert.match(plainRefused.errors.join(), /encryption is not configured/);
    assert.equal(stateOf(a, "enc-c"), undefined);
    assert.equal(stateOf(a, "plain"), undefined);
  });

  it("bad datagrams and streams are counted and dropped; the transport keeps working", async () => {
    const target = await start("target", "127.0.0.66");
    const to = target.address;
    const socket = createSocket("udp4");
    const send = (bytes: Uint8Array) =>
      new Promise<void>((resolve) => socket.send(bytes, to.port, to.host, () => resolve()));
    const ping = encodeMessage({
      type: "ping",
      sequence: 1,
      node: "target",
      sourceAddress: new Uint8Array(0),
      sourcePort: 0,
      sourceNode: "",
    });
    const badCrc = addCrc(ping);
    badCrc[1] ^= 0xff;
    await send(badCrc);
    await send(Uint8Array.of(MessageType.compress, 0x81, 0xa3, 0x42, 0x75, 0x66)); // no Algo
    await send(Uint8Array.of(0xf4, 3, 0x61, 0x62, 0x63, 0)); // a label
    await send(Uint8Array.of(MessageType.compound, 200, 0, 10)); // truncated length table
    await send(Uint8Array.of(0x63, 1, 2, 3)); // unknown type
    await send(Uint8Array.from({ length: 1_000 }, (_, i) => (i * 7919) & 0xff));
    await waitUntil("the bad packets to be counted", () => {
      const dropped = target.stats().dropped;
      return dropped.crc >= 1 && dropped.label >= 1 && dropped.decode >= 3;
    });
    socket.close();
    const reply = await new Promise<Uint8Array>((resolve, reject) => {
      const stream = connect({ host: to.host, port: to.port }, () => {
        stream.write(Uint8Array.of(0x63, 0x00, 0x01)); // not a stream message
      });
      const chunks: Uint8Array[] = [];
      stream.on("data", (chunk) => chunks.push(chunk));
      stream.on("close", () => resolve(Uint8Array.from(chunks.flatMap((c) => [...c]))));
      stream.on("error", reject);
    });
    // memberlist answers a bad stream with an errResp (compressed when compression is on).
    assert.equal(reply[0], MessageType.compress);
    assert.equal(target.stats().dropped.stream, 1);
    const friend = await start("friend", "127.0.0.67");
    assert.deepEqual(await friend.join([to]), { joined: 1, errors: [] });
    await waitUntil("target to see friend", () => stateOf(target, "friend") === "alive");
  });
});
