// Goal: the server RPC frames messages exactly (u32 length + msgpack), multiplexes concurrent
// calls on one connection by request id, keeps its write queue bounded (one-way messages drop
// and calls fail when a peer stops reading), reassembles chunked payloads larger than a frame,
// survives garbage on the wire (the connection closes, the transport keeps serving), and
// drops malformed Raft messages before they reach the core. Method: codec round trips fed
// byte by byte; real transports on 127.0.0.54 (port 0) through the runtime's sockets; raw
// streams for a silent peer and for garbage.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeFrameBody, encodeFrame, FrameReader } from "../../src/server/_rpc_frame.ts";
import { decodeRaftMessage } from "../../src/server/_raft_wire.ts";
import {
  defaultRpcConfig,
  formatHostPort,
  parseHostPort,
  type RpcConfig,
  RpcTransport,
} from "../../src/server/rpc.ts";
import type { Stream } from "../../src/runtime.ts";
import { detectRuntime } from "../../runtimes/mod.ts";

const host = "127.0.0.54";
const runtime = await detectRuntime();
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers.splice(0)) await close();
});

async function transport(config: Partial<RpcConfig> = {}): Promise<RpcTransport> {
  const rpc = await RpcTransport.listen(runtime, { host, port: 0 }, {
    ...defaultRpcConfig(),
    ...config,
  });
  closers.push(() => rpc.close());
  return rpc;
}

function addressOf(rpc: RpcTransport): string {
  return formatHostPort(rpc.address);
}

async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) assert.fail(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("RPC frames", () => {
  it("encodeFrame() and FrameReader round-trip every kind, fed one byte at a time", () => {
    const frames = [
      encodeFrame({ kind: 0, id: 7, method: "status", payload: { a: [1, 2], b: 2n ** 60n } }),
      encodeFrame({ kind: 1, id: 7, failed: false, result: new Uint8Array([1, 2, 3]) }),
      encodeFrame({ kind: 1, id: 8, failed: true, result: "Cannot x: y" }),
      encodeFrame({ kind: 2, id: 0, method: "raft", payload: null }),
      encodeFrame({
        kind: 3,
        id: 9,
        method: "raft",
        header: { h: 1 },
        offset: 0,
        totalBytes: 4,
        bytes: new Uint8Array([9, 9]),
      }),
    ];
    const stream = new Uint8Array(frames.reduce((sum, frame) => sum + frame.byteLength, 0));
    let at = 0;
    for (const frame of frames) {
      assert.equal(new DataView(frame.buffer).getUint32(0), frame.byteLength - 4);
      stream.set(frame, at);
      at += frame.byteLength;
    }
    const reader = new FrameReader(1_024);
    const bodies: Uint8Array[] = [];
    for (const byte of stream) bodies.push(...reader.push(new Uint8Array([byte])));
    const decoded = bodies.map(decodeFrameBody);
    assert.equal(decoded.length, 5);
    assert.deepEqual(decoded[0], {
      kind: 0,
      id: 7,
      method: "status",
      payload: { a: [1, 2], b: 2n ** 60n },
    });
    assert.deepEqual(decoded[1], {
      kind: 1,
      id: 7,
      failed: false,
      result: new Uint8Array([1, 2, 3]),
    });
    assert.deepEqual(decoded[2], { kind: 1, id: 8, failed: true, result: "Cannot x: y" });
    assert.deepEqual(decoded[3], { kind: 2, id: 0, method: "raft", payload: null });
    assert.equal(decoded[4].kind, 3);
  });

  it("FrameReader refuses a length over rpcFrameBytesMax, and decodeFrameBody garbage", () => {
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, 2_000);
    assert.throws(() => new FrameReader(1_024).push(header), /Cannot read an RPC frame/);
    assert.throws(() => decodeFrameBody(new Uint8Array([0xc1])), SyntaxError);
    assert.throws(() => decodeFrameBody(new Uint8Array([0x93, 1, 2, 3])), SyntaxError);
    const badChunk = encodeFrame({
      kind: 3,
      id: 1,
      method: "m",
      header: null,
      offset: 3,
      totalBytes: 4,
      bytes: new Uint8Array(2),
    });
    assert.throws(() => decodeFrameBody(badChunk.subarray(4)), /pass its total/);
  });

  it("parseHostPort() reads ip:port and refuses the rest", () => {
    assert.deepEqual(parseHostPort("127.0.0.51:8300"), { host: "127.0.0.51", port: 8300 });
    assert.deepEqual(parseHostPort("[::1]:8300"), { host: "::1", port: 8300 });
    assert.throws(() => parseHostPort("127.0.0.51"), /Cannot parse the address/);
    assert.throws(() => parseHostPort("a:99999"), /Cannot parse the address/);
  });
});

describe("RpcTransport", () => {
  it("multiplexes concurrent calls on one connection and answers each by its id", async () => {
    const server = await transport();
    server.handle("echo", async (payload) => {
      const { n } = payload as { n: number };
      // Later requests answer first: responses arrive out of order.
      await new Promise((resolve) => setTimeout(resolve, 50 - (n % 50)));
      return { n, doubled: n * 2 };
    });
    server.handle("fail", () => {
      throw new Error("Cannot fail: on purpose");
    });
    const client = await transport({ connectionsPerPeerMax: 1 });
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, n) => client.call(addressOf(server), "echo", { n })),
    );
    answers.forEach((answer, n) => assert.deepEqual(answer, { n, doubled: n * 2 }));
    await assert.rejects(client.call(addressOf(server), "fail", null), /Cannot fail: on purpose/);
    await assert.rejects(client.call(addressOf(server), "nothing", null), /no such method/);
  });

  it("delivers one-way messages in order, and chunked payloads larger than a frame", async () => {
    const server = await transport();
    const received: number[] = [];
    server.onMessage("tick", (payload) => received.push((payload as { n: number }).n));
    let big: { header: unknown; bytes: Uint8Array | undefined } | undefined;
    server.onMessage("big", (header, bytes) => big = { header, bytes });
    const client = await transport({ connectionsPerPeerMax: 1, chunkBytesMax: 65_536 });
    // The first send starts the dial; messages sent before it connects are dropped (Raft
    // retries), so wait for a connection with a call first.
    server.handle("ping", () => "pong");
    assert.equal(await client.call(addressOf(server), "ping", null), "pong");
    for (let n = 0; n < 100; n++) assert.ok(client.send(addressOf(server), "tick", { n }));
    const payload = new Uint8Array(3 * 1_048_576 + 17).map((_, at) => at % 251);
    assert.ok(client.sendChunked(addressOf(server), "big", { kind: "snapshot" }, payload));
    await eventually(() => received.length === 100 && big !== undefined, "messages");
    assert.deepEqual(received, Array.from({ length: 100 }, (_, n) => n));
    assert.deepEqual(big?.header, { kind: "snapshot" });
    assert.deepEqual(big?.bytes, payload);
  });

  it("bounds the write queue to a peer that stops reading: drops messages, fails calls", async () => {
    // A raw listener that accepts and never reads: the kernel buffers fill, then our queue.
    const silent: Stream[] = [];
    const listener = await runtime.listenStreams({ host, port: 0 }, (stream) => {
      silent.push(stream);
    });
    closers.push(async () => {
      for (const stream of silent) stream.destroy();
      await listener.close();
    });
    const client = await transport({
      connectionsPerPeerMax: 1,
      writeQueueBytesMax: 1_048_576,
      writeQueueFramesMax: 64,
    });
    const to = formatHostPort(listener.address);
    const firstCall = client.call(to, "never", null, { timeoutMs: 60_000 }).catch((error) => error);
    await eventually(() => silent.length === 1, "the connection");
    const blob = new Uint8Array(256 * 1_024);
    let dropped = 0;
    for (let n = 0; n < 2_000; n++) if (!client.send(to, "raft", { blob })) dropped += 1;
    assert.ok(dropped > 1_500, `${dropped} of 2000 messages dropped`);
    assert.ok(client.stats.droppedMessages >= dropped);
    // Top the queue up to its frame bound with small messages: then a call fails at once.
    for (let n = 0; n < 100 && client.send(to, "raft", { n }); n++);
    await assert.rejects(client.call(to, "x", null), /Cannot call "x": the write queue is full/);
    await client.close();
    assert.match(String(await firstCall), /connection closed/);
  });

  it("survives garbage frames: the connection closes, the transport keeps answering", async () => {
    const server = await transport({ rpcFrameBytesMax: 65_536 });
    server.handle("ping", () => "pong");
    server.onMessage("raft", () => assert.fail("a garbage frame reached a handler"));
    const garbage = [
      new Uint8Array([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]), // msgpack's never-used byte
      new Uint8Array([0xff, 0xff, 0xff, 0xff]), // a 4 GiB frame
      encodeFrame({ kind: 2, id: 0, method: "raft", payload: null }).map((byte, at) =>
        at === 4 ? 0x94 : byte
      ).subarray(0, 6), // a truncated frame, then the stream ends
      new Uint8Array(Array.from({ length: 512 }, (_, at) => (at * 7919) % 256)),
    ];
    for (const bytes of garbage) {
      const stream = await runtime.dial(server.address, { timeoutMs: 1_000 });
      let closed = false;
      stream.onClose(() => closed = true);
      stream.onData(() => {});
      stream.write(bytes);
      stream.end();
      // Sockets do not hold the event loop open; the polling timer does.
      await eventually(() => closed, "the garbage connection to close");
    }
    await eventually(() => server.stats.protocolErrors >= 3, "protocol errors counted");
    const client = await transport();
    assert.equal(await client.call(addressOf(server), "ping", null), "pong");
  });

  it("fails calls to an unreachable peer fast and backs off redialling", async () => {
    const client = await transport({ dialTimeoutMs: 500, reconnectBackoffMinMs: 1_000 });
    const nobody = `${host}:1`; // Nothing listens on port 1.
    await assert.rejects(client.call(nobody, "status", null), /Cannot call "status"/);
    const started = performance.now();
    await assert.rejects(client.call(nobody, "status", null), /unreachable; retrying in/);
    assert.ok(performance.now() - started < 100, "a call in back-off fails without dialling");
    assert.equal(client.send(nobody, "raft", {}), false);
    assert.equal(client.stats.dialFailures, 1);
  });
});

describe("Raft messages on the wire", () => {
  const heartbeat = { type: "heartbeat", from: "a", to: "b", term: 3, commit: 5, round: 9 };

  it("decodeRaftMessage() keeps well-formed messages", () => {
    assert.deepEqual(decodeRaftMessage(heartbeat), heartbeat);
    const append = {
      type: "appendEntries",
      from: "a",
      to: "b",
      term: 2,
      prevIndex: 1,
      prevTerm: 1,
      commit: 1,
      entries: [
        { type: "normal", index: 2, term: 2, data: new Uint8Array([1]) },
        { type: "noop", index: 3, term: 2 },
        { type: "membership", index: 4, term: 2, membership: { voters: ["a"], nonVoters: [] } },
      ],
    };
    assert.deepEqual(decodeRaftMessage(append), append);
  });

  it("decodeRaftMessage() drops malformed messages before they reach the core", () => {
    for (
      const bad of [
        null,
        42,
        { ...heartbeat, type: "nonsense" },
        { ...heartbeat, term: -1 },
        { ...heartbeat, term: 1.5 },
        { ...heartbeat, round: "9" },
        { ...heartbeat, from: 7 },
        { type: "appendEntries", from: "a", to: "b", term: 1, prevIndex: 0, prevTerm: 0 },
        {
          type: "appendEntries",
          from: "a",
          to: "b",
          term: 1,
          prevIndex: 0,
          prevTerm: 0,
          commit: 0,
          entries: [{ type: "normal", index: 1, term: 1, data: "text" }],
        },
        { type: "installSnapshot", from: "a", to: "b", term: 1, meta: { index: 1, term: 1 } },
      ]
    ) {
      assert.equal(decodeRaftMessage(bad, new Uint8Array(1)), undefined, JSON.stringify(bad));
    }
  });
});
