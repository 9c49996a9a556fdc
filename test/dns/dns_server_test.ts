// Goal: DnsServer answers real DNS clients over UDP and TCP on one port, survives garbage (dropping
// and counting it, then answering the next query), frames TCP per RFC 1035 §4.2.2 (split and
// pipelined messages), enforces its TCP bounds (connection cap, idle timeout, held bytes while a
// client does not read) and closes everything on close(); and real `dig` gets A and SRV answers.
// Method: the runtime detected for whichever of Deno, Bun or Node runs this file, a fake DnsLookup,
// clients on node:dgram and node:net at 127.0.0.1 port 0; the backpressure case drives the server
// with a fake Stream whose writes report a full buffer. Timing bounds are generous.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { decode, type DecodedPacket, encode, type Question } from "dns-packet";
import type { Address, Runtime, Stream, StreamListener } from "../../src/runtime.ts";
import { detectRuntime } from "../../runtimes/mod.ts";
import { DnsServer } from "../../src/dns/dns_server.ts";
import type { DnsLookup, DnsNode, DnsServiceInstance } from "../../src/dns/dns_lookup.ts";

const host = "127.0.0.1";
const digPath = "/usr/bin/dig";

/** Three healthy `web` instances and one node. */
const lookup: DnsLookup = {
  datacenter: "dc1",
  domain: "consul.",
  serviceInstances(service: string): DnsServiceInstance[] {
    if (service !== "web") return [];
    return [1, 2, 3].map((index) => ({
      node: `node-${index}`,
      nodeAddress: `10.0.0.${index}`,
      serviceAddress: "",
      port: 8080 + index,
      nodeMeta: {},
      status: "passing",
      weightPassing: 1,
      weightWarning: 1,
    }));
  },
  node(name: string): DnsNode | undefined {
    return name === "node-1"
      ? { node: "node-1", address: "10.0.0.1", meta: { rack: "r1" } }
      : undefined;
  },
};

let runtime: Runtime;

before(async () => {
  runtime = await detectRuntime();
});

function queryBytes(name: string, type: Question["type"], id = 7): Buffer {
  return encode({ type: "query", id, flags: 1 << 8, questions: [{ name, type, class: "IN" }] });
}

function framed(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(2 + message.length);
  frame.writeUInt16BE(message.length, 0);
  frame.set(message, 2);
  return frame;
}

/** Rejects after `timeoutMs` unless `promise` settles first. */
function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Cannot finish ${what}: timed out`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Sends datagrams from one client socket and resolves with the first reply. */
async function udpAsk(port: number, ...datagrams: Uint8Array[]): Promise<DecodedPacket> {
  const socket = createSocket("udp4");
  try {
    const reply = new Promise<Buffer>((resolve) => socket.once("message", resolve));
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    for (const datagram of datagrams) socket.send(datagram, port, host);
    return decode(await within(reply, 5_000, "a UDP query"));
  } finally {
    socket.close();
  }
}

/** A TCP DNS client: writes raw bytes, reads length-prefixed replies in order. */
class TcpClient {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  #held = Buffer.alloc(0);
  #waiting: ((reply: DecodedPacket) => void)[] = [];
  #replies: DecodedPacket[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      this.#held = Buffer.concat([this.#held, chunk]);
      while (this.#held.length >= 2 && this.#held.length >= 2 + this.#held.readUInt16BE(0)) {
        const length = this.#held.readUInt16BE(0);
        const reply = decode(this.#held.subarray(2, 2 + length));
        this.#held = this.#held.subarray(2 + length);
        const waiter = this.#waiting.shift();
        if (waiter === undefined) this.#replies.push(reply);
        else waiter(reply);
      }
    });
  }

  static connect(port: number): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => resolve(new TcpClient(socket)));
      socket.once("error", reject);
    });
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  next(): Promise<DecodedPacket> {
    const ready = this.#replies.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return within(new Promise((resolve) => this.#waiting.push(resolve)), 5_000, "a TCP reply");
  }

  close(): void {
    this.socket.destroy();
  }
}

function answersOf(reply: DecodedPacket): unknown[] {
  return (reply.answers ?? []).map((record) => "data" in record ? record.data : undefined);
}

describe("DnsServer over UDP and TCP", () => {
  let server: DnsServer;

  before(async () => {
    server = await DnsServer.start(runtime, lookup, { host, port: 0 });
  });

  after(async () => {
    await server.close();
  });

  it("binds one port for both transports", () => {
    assert.equal(server.address.host, host);
    assert.ok(server.address.port > 0);
  });

  it("answers a query over UDP", async () => {
    const reply = await udpAsk(server.address.port, queryBytes("web.service.consul", "A"));
    assert.equal(reply.id, 7);
    assert.equal(reply.flag_aa, true);
    assert.deepEqual(new Set(answersOf(reply)), new Set(["10.0.0.1", "10.0.0.2", "10.0.0.3"]));
  });

  it("answers a query over TCP, pipelined and split messages in order", async () => {
    const client = await TcpClient.connect(server.address.port);
    try {
      client.write(framed(queryBytes("web.service.consul", "SRV", 1)));
      const first = await client.next();
      assert.equal(first.id, 1);
      assert.equal(first.answers?.length, 3);
      assert.equal(first.additionals?.length, 3);
      // Two queries in one write, then one query a byte at a time.
      client.write(Buffer.concat([
        framed(queryBytes("node-1.node.consul", "A", 2)),
        framed(queryBytes("nope.service.consul", "A", 3)),
      ]));
      const split = framed(queryBytes("web.service.consul", "A", 4));
      for (const byte of split) client.write(Uint8Array.of(byte));
      const [second, third, fourth] = [
        await client.next(),
        await client.next(),
        await client.next(),
      ];
      assert.deepEqual([second.id, third.id, fourth.id], [2, 3, 4]);
      assert.deepEqual(answersOf(second), ["10.0.0.1"]);
      assert.equal(third.flags! & 0xf, 3, "NXDOMAIN");
      assert.equal(fourth.answers?.length, 3);
    } finally {
      client.close();
    }
  });

  it("drops and counts garbage over UDP, then answers the next query", async () => {
    const before = server.counters;
    const garbage = [Uint8Array.of(1, 2, 3), new Uint8Array(12).fill(0xff), new Uint8Array(0)];
    // Garbage first from the same client: the only reply it gets is the real query's.
    const reply = await udpAsk(
      server.address.port,
      ...garbage,
      queryBytes("web.service.consul", "A", 9),
    );
    assert.equal(reply.id, 9);
    const counters = server.counters;
    assert.ok(counters.malformed >= before.malformed + 2, `malformed: ${counters.malformed}`);
    assert.equal(counters.answerErrors, 0);
  });

  it("drops and counts response packets, never answering them", async () => {
    const before = server.counters.ignored;
    const response = queryBytes("web.service.consul", "A", 10);
    response[2] |= 0x80;
    const reply = await udpAsk(
      server.address.port,
      response,
      queryBytes("web.service.consul", "A", 11),
    );
    assert.equal(reply.id, 11);
    assert.equal(server.counters.ignored, before + 1);
  });

  it("drops garbage over TCP and keeps the connection answering", async () => {
    const client = await TcpClient.connect(server.address.port);
    try {
      const before = server.counters.malformed;
      client.write(framed(Uint8Array.of(0xde, 0xad, 0xbe, 0xef)));
      client.write(framed(new Uint8Array(0)));
      client.write(framed(queryBytes("web.service.consul", "A", 12)));
      const reply = await client.next();
      assert.equal(reply.id, 12);
      assert.equal(server.counters.malformed, before + 2);
    } finally {
      client.close();
    }
  });

  it("answers SERVFAIL and counts it when the lookup throws, then carries on", async () => {
    const failing: DnsLookup = {
      ...lookup,
      serviceInstances(service: string) {
        if (service === "boom") throw new Error("Cannot read catalog: test failure");
        return lookup.serviceInstances(service, undefined);
      },
    };
    const other = await DnsServer.start(runtime, failing, { host, port: 0 });
    try {
      const reply = await udpAsk(other.address.port, queryBytes("boom.service.consul", "A", 21));
      assert.equal(reply.id, 21);
      assert.equal(reply.flags! & 0xf, 2, "SERVFAIL");
      assert.equal(other.counters.answerErrors, 1);
      const next = await udpAsk(other.address.port, queryBytes("web.service.consul", "A", 22));
      assert.equal(next.answers?.length, 3);
    } finally {
      await other.close();
    }
  });

  it("close() ends open TCP connections and frees the port", async () => {
    const other = await DnsServer.start(runtime, lookup, { host, port: 0 });
    const client = await TcpClient.connect(other.address.port);
    client.write(framed(queryBytes("web.service.consul", "A", 13)));
    await client.next();
    await other.close();
    await within(client.closed, 5_000, "the server closing the connection");
    await other.close(); // Idempotent.
    const again = await DnsServer.start(runtime, lookup, { host, port: other.address.port });
    await again.close();
  });
});

describe("DnsServer TCP bounds", () => {
  it("closes connections past tcpConnectionsMax and counts them", async () => {
    const server = await DnsServer.start(runtime, lookup, { host, port: 0, tcpConnectionsMax: 1 });
    const first = await TcpClient.connect(server.address.port);
    try {
      first.write(framed(queryBytes("web.service.consul", "A", 1)));
      await first.next();
      const second = await TcpClient.connect(server.address.port);
      await within(second.closed, 5_000, "the server rejecting a connection");
      assert.equal(server.counters.tcpRejected, 1);
      first.write(framed(queryBytes("web.service.consul", "A", 2)));
      assert.equal((await first.next()).id, 2, "the first connection still answers");
    } finally {
      first.close();
      await server.close();
    }
  });

  it("closes a connection idle past tcpIdleTimeoutMs", async () => {
    const server = await DnsServer.start(runtime, lookup, { host, port: 0, tcpIdleTimeoutMs: 200 });
    try {
      const client = await TcpClient.connect(server.address.port);
      client.write(framed(queryBytes("web.service.consul", "A", 1)));
      await client.next();
      await within(client.closed, 5_000, "the idle timeout");
      assert.equal(server.counters.tcpIdleClosed, 1);
      assert.equal(server.tcpConnectionsOpen, 0);
    } finally {
      await server.close();
    }
  });

  it("pauses while a client does not read, and closes it past tcpBufferedBytesMax", async () => {
    // The real runtime for UDP; TCP comes from a fake listener that hands over a fake Stream.
    let accept: ((stream: Stream) => void) | undefined;
    const fakeRuntime = {
      clock: runtime.clock,
      timers: runtime.timers,
      randomBytes: (bytes: Uint8Array) => runtime.randomBytes(bytes),
      bindPackets: (at: Address) => runtime.bindPackets(at),
      listenStreams(at: Address, handle: (stream: Stream) => void): Promise<StreamListener> {
        accept = handle;
        return Promise.resolve({ address: at, close: () => Promise.resolve() });
      },
    };
    const server = await DnsServer.start(fakeRuntime, lookup, { host, port: 0 });
    const stream = new FakeStream();
    accept!(stream);
    try {
      stream.full = true; // The kernel buffer is full after the next reply.
      const query = framed(queryBytes("web.service.consul", "A"));
      stream.receive(Buffer.concat([query, query, query]));
      assert.equal(stream.writes, 1, "answering pauses after a write reports a full buffer");
      stream.full = false;
      stream.drain();
      assert.equal(stream.writes, 3, "a drain resumes answering");
      stream.full = true;
      stream.receive(query);
      const chunk = Buffer.alloc(60_000, 0);
      for (let index = 0; index < 3 && !stream.destroyed; index++) stream.receive(chunk);
      assert.equal(stream.destroyed, true, "held bytes past the bound close the connection");
      assert.equal(server.counters.tcpOverflowClosed, 1);
      assert.equal(server.tcpConnectionsOpen, 0);
    } finally {
      await server.close();
    }
  });
});

/** A Stream driven by the test: `receive` feeds bytes in, `full` decides what `write` returns. */
class FakeStream implements Stream {
  readonly remote: Address = { host, port: 1 };
  readonly local: Address = { host, port: 2 };
  full = false;
  writes = 0;
  destroyed = false;
  #data: ((bytes: Uint8Array) => void) | undefined;
  #drain: (() => void) | undefined;
  #close: ((error?: Error) => void) | undefined;

  receive(bytes: Uint8Array): void {
    this.#data?.(bytes);
  }

  drain(): void {
    this.#drain?.();
  }

  write(): boolean {
    this.writes++;
    return !this.full;
  }

  onData(handle: (bytes: Uint8Array) => void): void {
    this.#data = handle;
  }

  onDrain(handle: () => void): void {
    this.#drain = handle;
  }

  onClose(handle: (error?: Error) => void): void {
    this.#close = handle;
  }

  end(): void {
    this.destroy();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    queueMicrotask(() => this.#close?.());
  }
}

/** Runs dig and resolves with its stdout. */
function dig(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(digPath, args, { timeout: 10_000 }, (error, stdout) => {
      if (error) reject(error);
      else resolve(stdout);
    });
  });
}

describe("DnsServer with dig", () => {
  it("answers real dig for A and SRV over UDP and TCP", async (context) => {
    if (!existsSync(digPath)) {
      context.skip(`${digPath} is missing: apt-get install bind9-dnsutils to run this test`);
      return;
    }
    const server = await DnsServer.start(runtime, lookup, { host, port: 0 });
    try {
      const at = [`@${host}`, "-p", String(server.address.port)];
      const a = await dig([...at, "web.service.consul", "A", "+short"]);
      assert.deepEqual(a.trim().split("\n").sort(), ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
      const srv = await dig([...at, "web.service.consul", "SRV", "+tcp"]);
      assert.match(srv, /status: NOERROR/);
      assert.match(srv, /flags: qr aa rd;/);
      assert.match(
        srv,
        /web\.service\.consul\.\s+0\s+IN\s+SRV\s+1 1 8081 node-1\.node\.dc1\.consul\./,
      );
      assert.match(srv, /node-1\.node\.dc1\.consul\.\s+0\s+IN\s+A\s+10\.0\.0\.1/);
      const missing = await dig([...at, "nope.service.consul", "A"]);
      assert.match(missing, /status: NXDOMAIN/);
      assert.match(missing, /consul\.\s+0\s+IN\s+SOA\s+ns\.consul\. hostmaster\.consul\./);
    } finally {
      await server.close();
    }
  });
});
