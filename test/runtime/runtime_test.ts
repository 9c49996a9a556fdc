// Goal: the Runtime adapter for whichever runtime runs this file (Deno, Bun or Node) does what
// src/runtime.ts promises: UDP and TCP round trips, atomic and appended files, child processes
// with timeout and output cap, an HTTP server on the native API, timers, and unref'd resources
// that let a program exit. Method: real sockets on 127.0.0.1 (and ::1) port 0, files in a fresh
// temp directory, small `sh` children, a python3 listener that never accepts (for the dial
// timeout; skipped without python3), and runtime_fixture.ts run as a second process on the same
// runtime for what one process cannot observe about itself. Timing bounds are generous.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { Address, Runtime, Stream } from "../../src/runtime.ts";
import { detectRuntime } from "../../runtimes/mod.ts";

const loopback: Address = { host: "127.0.0.1", port: 0 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Listens with a backlog of 1, prints its port, and never accepts. */
const BLOCKED_LISTENER_PY = [
  "import socket, time",
  "s = socket.socket()",
  "s.bind(('127.0.0.1', 0))",
  "s.listen(1)",
  "print(s.getsockname()[1], flush=True)",
  "time.sleep(20)",
].join("\n");

let runtime: Runtime;

before(async () => {
  runtime = await detectRuntime();
});

/** Resolves with the first value `register` reports, or rejects after `timeoutMs`. */
function waitFor<T>(register: (report: (value: T) => void) => void, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no report in ${timeoutMs} ms`)), timeoutMs);
    register((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The command that runs runtime_fixture.ts (or its compiled .js) on this runtime. */
function fixtureCommand(mode: string): string[] {
  const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  const path = fileURLToPath(new URL(`./runtime_fixture${extension}`, import.meta.url));
  if (runtime.name === "deno") return [process.execPath, "run", "-A", path, mode];
  return [process.execPath, path, mode];
}

describe("runtime adapter", () => {
  it("detectRuntime() picks the runtime running the tests", () => {
    const globals = globalThis as { Deno?: unknown; Bun?: unknown };
    const expected = typeof globals.Deno === "object"
      ? "deno"
      : typeof globals.Bun === "object"
      ? "bun"
      : "node";
    assert.equal(runtime.name, expected);
  });

  it("clock and randomBytes() give monotonic time, wall time and fresh random bytes", () => {
    const first = runtime.clock.monotonicMs();
    assert.ok(runtime.clock.monotonicMs() >= first);
    assert.ok(Math.abs(runtime.clock.wallMs() - Date.now()) < 1_000);
    // Past 65,536 bytes getRandomValues throws, so this checks the chunking too.
    const bytes = runtime.randomBytes(new Uint8Array(100_000));
    assert.ok(bytes.subarray(0, 16).some((byte) => byte !== 0));
    assert.ok(bytes.subarray(99_984).some((byte) => byte !== 0));
  });
});

describe("PacketSocket (UDP)", () => {
  it("bindPackets() round-trips a datagram on 127.0.0.1 port 0", async () => {
    const server = await runtime.bindPackets(loopback);
    const client = await runtime.bindPackets(loopback);
    try {
      assert.equal(server.address.host, "127.0.0.1");
      assert.notEqual(server.address.port, 0);
      server.onPacket((bytes, from) => server.send(bytes.slice().reverse(), from));
      const reply = waitFor<[Uint8Array, Address]>((report) => {
        client.onPacket((bytes, from) => report([bytes, from]));
      });
      client.send(encoder.encode("ping"), server.address);
      const [bytes, from] = await reply;
      assert.equal(decoder.decode(bytes), "gnip");
      assert.equal(Object.getPrototypeOf(bytes), Uint8Array.prototype);
      assert.deepEqual(from, server.address);
    } finally {
      await server.close();
      await client.close();
    }
  });

  it("bindPackets() uses udp6 for an IPv6 literal", async () => {
    const socket = await runtime.bindPackets({ host: "::1", port: 0 });
    try {
      const received = waitFor<string>((report) => {
        socket.onPacket((bytes) => report(decoder.decode(bytes)));
      });
      socket.send(encoder.encode("six"), socket.address);
      assert.equal(await received, "six");
      assert.equal(socket.address.host, "::1");
    } finally {
      await socket.close();
    }
  });

  it("bindPackets() rejects a host name and a port in use", async () => {
    await assert.rejects(runtime.bindPackets({ host: "localhost", port: 0 }), TypeError);
    const socket = await runtime.bindPackets(loopback);
    try {
      await assert.rejects(runtime.bindPackets(socket.address), /^Error: Cannot bind packets on/);
    } finally {
      await socket.close();
    }
  });

  it("send() never throws: unreachable addresses and a closed socket lose the datagram", async () => {
    const socket = await runtime.bindPackets(loopback);
    try {
      socket.send(encoder.encode("v6"), { host: "::1", port: 9 });
      socket.send(encoder.encode("port 0"), { host: "127.0.0.1", port: 0 });
      socket.send(encoder.encode("port 70000"), { host: "127.0.0.1", port: 70_000 });
      // The socket still works afterwards.
      const received = waitFor<string>((report) => {
        socket.onPacket((bytes) => report(decoder.decode(bytes)));
      });
      socket.send(encoder.encode("after"), socket.address);
      assert.equal(await received, "after");
    } finally {
      await socket.close();
    }
    socket.send(encoder.encode("late"), socket.address);
  });
});

describe("Stream (TCP)", () => {
  it("listenStreams() and dial() round-trip bytes and report both ends closing", async () => {
    const serverClosed: Promise<Error | undefined>[] = [];
    const listener = await runtime.listenStreams(loopback, (stream) => {
      serverClosed.push(waitFor((report) => stream.onClose(report)));
      stream.onData((bytes) => {
        stream.write(bytes);
        stream.end();
      });
    });
    let stream: Stream | undefined;
    try {
      assert.notEqual(listener.address.port, 0);
      stream = await runtime.dial(listener.address, { timeoutMs: 5_000 });
      assert.deepEqual(stream.remote, listener.address);
      assert.equal(stream.local.host, "127.0.0.1");
      const received: Uint8Array[] = [];
      const dialed = stream;
      const closed = waitFor<Error | undefined>((report) => dialed.onClose(report));
      dialed.onData((bytes) => received.push(bytes.slice()));
      assert.equal(dialed.write(encoder.encode("hello")), true);
      assert.equal(await closed, undefined);
      assert.equal(decoder.decode(concat(received)), "hello");
      assert.equal(serverClosed.length, 1);
      assert.equal(await serverClosed[0], undefined);
      // onClose after the close still reports it, once.
      assert.equal(await waitFor((report) => dialed.onClose(report)), undefined);
    } finally {
      stream?.destroy();
      await listener.close();
    }
    // close() freed the port: it can be bound again at once.
    const again = await runtime.listenStreams(listener.address, () => {});
    await again.close();
  });

  it("a stream keeps data that arrives before onData() and reports drain", async () => {
    // Larger than loopback's socket buffers, so write() must report backpressure.
    const payload = new Uint8Array(16 * 1024 * 1024).map((_, index) => index % 251);
    let reportAccepted: (stream: Stream) => void = () => {};
    const accepted = new Promise<Stream>((resolve) => (reportAccepted = resolve));
    const listener = await runtime.listenStreams(loopback, (stream) => reportAccepted(stream));
    const stream = await runtime.dial(listener.address, { timeoutMs: 5_000 });
    const server = await accepted;
    try {
      const drained = waitFor<void>((report) => stream.onDrain(() => report()));
      assert.equal(stream.write(payload), false);
      await sleep(50);
      const received: Uint8Array[] = [];
      const closed = waitFor<void>((report) => server.onClose(() => report()));
      server.onData((bytes) => received.push(bytes.slice()));
      await drained;
      stream.end();
      await closed;
      assert.deepEqual(concat(received), payload);
    } finally {
      stream.destroy();
      server.destroy();
      await listener.close();
    }
  });

  it("listenStreams() rejects a host name and a port in use", async () => {
    await assert.rejects(
      runtime.listenStreams({ host: "localhost", port: 0 }, () => {}),
      TypeError,
    );
    const listener = await runtime.listenStreams(loopback, () => {});
    try {
      await assert.rejects(
        runtime.listenStreams(listener.address, () => {}),
        /^Error: Cannot listen on 127\.0\.0\.1:\d+: /,
      );
    } finally {
      await listener.close();
    }
  });

  it("dial() rejects with 'Cannot connect to' when refused", async () => {
    const listener = await runtime.listenStreams(loopback, () => {});
    await listener.close();
    await assert.rejects(
      runtime.dial(listener.address, { timeoutMs: 5_000 }),
      (error: Error) =>
        error.message.startsWith(`Cannot connect to 127.0.0.1:${listener.address.port}: `),
    );
    await assert.rejects(
      runtime.dial({ host: "localhost", port: 1 }, { timeoutMs: 100 }),
      TypeError,
    );
  });

  it("dial() rejects after timeoutMs when the peer never completes the handshake", {
    timeout: 30_000,
  }, async (t) => {
    // A listener with a full accept queue: the kernel drops further SYNs, so connect hangs. It
    // runs in python3 because Bun ignores node:net's `backlog` (it always listens with 512).
    const child = spawn("python3", ["-c", BLOCKED_LISTENER_PY], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const streams: Stream[] = [];
    try {
      const started = await waitFor<string>((report) => {
        child.once("error", (error) => report(`error: ${error.message}`));
        child.stdout.once("data", (chunk) => report(String(chunk)));
      }, 20_000);
      if (started.startsWith("error: ")) {
        t.skip(`python3 is needed to hold a listener that never accepts (${started})`);
        return;
      }
      const blocked = { host: "127.0.0.1", port: Number(started) };
      let error: Error | undefined;
      // Backlog 1 admits about two connections; a later one must time out.
      for (let attempt = 0; attempt < 6 && error === undefined; attempt++) {
        try {
          streams.push(await runtime.dial(blocked, { timeoutMs: 300 }));
        } catch (caught) {
          error = caught as Error;
        }
      }
      assert.ok(error, "every dial connected: the accept queue never filled");
      assert.equal(
        error.message,
        `Cannot connect to 127.0.0.1:${blocked.port}: timed out after 300 ms`,
      );
    } finally {
      for (const stream of streams) stream.destroy();
      child.kill("SIGKILL");
    }
  });
});

describe("FileStore", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "cairn-runtime-test-"));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("append(), read(), replace(), list() and remove() work in a new directory", async () => {
    const files = await runtime.files(join(dir, "nested", "data"));
    assert.equal(files.dir, join(dir, "nested", "data"));
    assert.deepEqual(await files.list(), []);
    assert.equal(await files.read("wal-1"), undefined);

    await files.append("wal-1", encoder.encode("one,"), { sync: false });
    await files.append("wal-1", encoder.encode("two,"), { sync: true });
    assert.equal(decoder.decode(await files.read("wal-1")), "one,two,");

    await files.replace("snapshot", encoder.encode("first"));
    await files.replace("snapshot", encoder.encode("second"));
    assert.equal(decoder.decode(await files.read("snapshot")), "second");

    // Replacing a file that has a cached append descriptor, then appending, extends the new file.
    await files.replace("wal-1", encoder.encode("fresh,"));
    await files.append("wal-1", encoder.encode("three"), { sync: true });
    assert.equal(decoder.decode(await files.read("wal-1")), "fresh,three");

    assert.deepEqual(await files.list(), ["snapshot", "wal-1"]);
    await files.remove("wal-1");
    await files.remove("wal-1");
    assert.equal(await files.read("wal-1"), undefined);
    assert.deepEqual(await files.list(), ["snapshot"]);
  });

  it("append() stays correct past the open-descriptor cache's bound", async () => {
    const files = await runtime.files(join(dir, "many"));
    const names = Array.from(
      { length: 100 },
      (_, index) => `segment-${String(index).padStart(3, "0")}`,
    );
    for (const round of [0, 1]) {
      for (const name of names) {
        await files.append(name, encoder.encode(`${round}`), { sync: false });
      }
    }
    assert.deepEqual(await files.list(), names);
    for (const name of names) assert.equal(decoder.decode(await files.read(name)), "01");
  });

  it("rejects names that are not plain, and reports other errors as 'Cannot ...'", async () => {
    const files = await runtime.files(join(dir, "names"));
    for (const name of ["", "../escape", "a/b", ".hidden"]) {
      await assert.rejects(files.append(name, new Uint8Array(1), { sync: false }), TypeError);
      await assert.rejects(files.read(name), TypeError);
    }
    await runtime.files(join(dir, "names", "sub"));
    await assert.rejects(files.read("sub"), /^Error: Cannot read "sub": EISDIR/);
  });
});

describe("run()", () => {
  it("reports the exit code and interleaved stdout and stderr", async () => {
    const result = await runtime.run(["sh", "-c", "echo out; sleep 0.05; echo err >&2; exit 3"], {
      timeoutMs: 10_000,
      outputBytesMax: 1_000,
    });
    assert.deepEqual(result.exitCode, 3);
    assert.equal(result.timedOut, false);
    assert.equal(decoder.decode(result.output), "out\nerr\n");
  });

  it("kills the whole process group with SIGKILL on timeout", { timeout: 20_000 }, async () => {
    const started = performance.now();
    // The shell forks `sleep`, which holds the output pipe: only a group kill ends this early.
    const result = await runtime.run(["sh", "-c", "echo started; sleep 10; echo done"], {
      timeoutMs: 300,
      outputBytesMax: 1_000,
    });
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, undefined);
    // The runtime itself may print notes first (a download, a lockfile warning): the fixture's
    // own line must come last.
    assert.match(decoder.decode(result.output), /(^|\n)started\n$/);
    assert.ok(performance.now() - started < 5_000, "the run outlived its timeout");
  });

  it("caps the output at outputBytesMax and keeps draining the rest", async () => {
    const result = await runtime.run(["sh", "-c", "head -c 1000000 /dev/zero; echo end >&2"], {
      timeoutMs: 10_000,
      outputBytesMax: 1_000,
    });
    assert.equal(result.exitCode, 0);
    assert.equal(result.output.byteLength, 1_000);
  });

  it("rejects a program that does not exist", async () => {
    await assert.rejects(
      runtime.run(["/nonexistent/cairn-program"], { timeoutMs: 1_000, outputBytesMax: 10 }),
      /^Error: Cannot run "\/nonexistent\/cairn-program": /,
    );
    await assert.rejects(runtime.run([], { timeoutMs: 1_000, outputBytesMax: 10 }), TypeError);
  });
});

describe("serveHttp()", () => {
  it("serves a fetch handler on the real bound port", async () => {
    const server = await runtime.serveHttp(
      (request) => Response.json({ path: new URL(request.url).pathname, method: request.method }),
      loopback,
    );
    try {
      assert.notEqual(server.address.port, 0);
      assert.equal(server.address.host, "127.0.0.1");
      const expectedKind = { deno: "Deno.serve", bun: "Bun.serve" }[runtime.name];
      assert.equal(server.kind, expectedKind ?? "@hono/node-server");
      const response = await runtime.fetch(
        `http://127.0.0.1:${server.address.port}/v1/agent/self`,
        { method: "PUT", body: "{}" },
      );
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { path: "/v1/agent/self", method: "PUT" });
    } finally {
      await server.close();
    }
  });

  it("close() does not wait for a request that is still running", { timeout: 20_000 }, async () => {
    let requestArrived: () => void = () => {};
    const arrived = new Promise<void>((resolve) => (requestArrived = resolve));
    const server = await runtime.serveHttp(() => {
      requestArrived();
      // A blocking query that would wait for minutes.
      return new Promise<Response>(() => {});
    }, loopback);
    const pending = runtime.fetch(`http://127.0.0.1:${server.address.port}/v1/kv/x?index=9`);
    pending.catch(() => {});
    await arrived;
    const started = performance.now();
    await server.close();
    assert.ok(performance.now() - started < 5_000, "close() waited for the running request");
    await assert.rejects(pending);
  });

  it("rejects with 'Cannot serve HTTP on' when the port is taken", async () => {
    const server = await runtime.serveHttp(() => new Response("ok"), loopback);
    try {
      await assert.rejects(
        runtime.serveHttp(() => new Response("ok"), server.address),
        /Cannot serve HTTP on 127\.0\.0\.1:/,
      );
    } finally {
      await server.close();
    }
  });
});

describe("Timers", () => {
  it("after() fires once, no earlier than asked; cancel() prevents it", async () => {
    const started = runtime.clock.monotonicMs();
    const firedAt = await waitFor<number>((report) => {
      runtime.timers.after(30, () => report(runtime.clock.monotonicMs()));
    });
    // Node's timers can fire up to ~1 ms early by performance.now() (runtimes.md P20).
    assert.ok(firedAt - started >= 28, `fired after ${firedAt - started} ms`);

    let cancelledFired = false;
    runtime.timers.after(10, () => (cancelledFired = true)).cancel();
    await sleep(60);
    assert.equal(cancelledFired, false);
  });

  it("every() fires repeatedly until cancelled", async () => {
    let count = 0;
    const handle = runtime.timers.every(10, () => count++);
    await sleep(120);
    handle.cancel();
    const atCancel = count;
    assert.ok(atCancel >= 3, `fired ${atCancel} times`);
    await sleep(60);
    assert.equal(count, atCancel);
  });

  it("after() and every() reject delays setTimeout would mangle", () => {
    assert.throws(() => runtime.timers.after(Number.NaN, () => {}), RangeError);
    assert.throws(() => runtime.timers.after(2 ** 31, () => {}), RangeError);
    assert.throws(() => runtime.timers.every(0, () => {}), RangeError);
  });
});

describe("unref'd resources (a second process)", () => {
  it(
    "pending unref'd timers, sockets and servers let the program exit",
    { timeout: 30_000 },
    async () => {
      const result = await runtime.run(fixtureCommand("unref"), {
        timeoutMs: 20_000,
        outputBytesMax: 10_000,
      });
      // The runtime itself may print notes first (a download, a lockfile warning): the fixture's
      // own line must come last.
      assert.match(decoder.decode(result.output), /(^|\n)started\n$/);
      assert.equal(result.timedOut, false, "an unref'd resource kept the program alive");
      assert.equal(result.exitCode, 0);
    },
  );

  it("a keepAlive timer keeps the program alive until it fires", { timeout: 30_000 }, async () => {
    const result = await runtime.run(fixtureCommand("keep-alive"), {
      timeoutMs: 20_000,
      outputBytesMax: 10_000,
    });
    // The runtime itself may print notes first (a download, a lockfile warning): the fixture's
    // own line must come last.
    assert.match(decoder.decode(result.output), /(^|\n)fired\n$/);
    assert.equal(result.exitCode, 0);
  });
});

describe("process", () => {
  it("onSignal() calls the handler when the signal arrives", {
    timeout: 30_000,
  }, async () => {
    const result = await runtime.run(fixtureCommand("signal"), {
      timeoutMs: 20_000,
      outputBytesMax: 10_000,
    });
    // The runtime itself may print notes first (a download, a lockfile warning): the fixture's
    // own line must come last.
    assert.match(decoder.decode(result.output), /(^|\n)SIGHUP\n$/);
    assert.equal(result.exitCode, 0);
  });

  it("env() reads a variable and args() returns an array", () => {
    assert.equal(runtime.env("PATH"), process.env.PATH);
    assert.equal(runtime.env("CAIRN_SURELY_UNSET_VARIABLE"), undefined);
    assert.ok(Array.isArray(runtime.args()));
  });
});

function concat(chunks: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
