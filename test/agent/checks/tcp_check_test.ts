// Goal: a TCP check is passing when a connection opens within the timeout ("TCP connect <addr>:
// Success") and critical otherwise, as Consul's CheckTCP, and addresses are split as Go's
// net.SplitHostPort. Method: a node:net listener on 127.0.0.1, a port with no listener, and the
// runtime chosen by detectRuntime().
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { detectRuntime } from "../../../runtimes/mod.ts";
import { parseHostPort, probeTcp, TcpCheck } from "../../../src/agent/checks/tcp_check.ts";
import { UpdateRecorder } from "./_helpers.ts";

const runtime = await detectRuntime();
let server: Server;
let port = 0;
let closedPort = 0;
let acceptedCount = 0;
const sockets = new Set<Socket>();

before(async () => {
  server = createServer((socket) => {
    acceptedCount += 1;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test("probeTcp() is passing when the port accepts, and closes its connection", async () => {
  const before = acceptedCount;
  const address = `127.0.0.1:${port}`;
  const result = await probeTcp(runtime, { address, timeoutMs: 2_000 });
  assert.deepEqual(result, { status: "passing", output: `TCP connect ${address}: Success` });
  assert.equal(acceptedCount, before + 1);
});

test("probeTcp() resolves localhost to the loopback address", async () => {
  const result = await probeTcp(runtime, { address: `localhost:${port}`, timeoutMs: 2_000 });
  assert.equal(result.status, "passing");
});

test("probeTcp() is critical when nothing listens", async () => {
  const address = `127.0.0.1:${closedPort}`;
  const result = await probeTcp(runtime, { address, timeoutMs: 2_000 });
  assert.equal(result.status, "critical");
  assert.ok(result.output.startsWith(`dial tcp ${address}: `), result.output);
});

test("probeTcp() is critical for an address without a port", async () => {
  const result = await probeTcp(runtime, { address: "127.0.0.1" });
  assert.deepEqual(result, {
    status: "critical",
    output: 'dial tcp 127.0.0.1: Cannot parse address "127.0.0.1": expected host:port, ' +
      "e.g. 127.0.0.1:8080",
  });
});

test("parseHostPort() splits hosts and ports as Go's net.SplitHostPort", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:8500"), { host: "127.0.0.1", port: 8500 });
  assert.deepEqual(parseHostPort("[::1]:53"), { host: "::1", port: 53 });
  assert.deepEqual(parseHostPort("localhost:80"), { host: "127.0.0.1", port: 80 });
  assert.deepEqual(parseHostPort(":9000"), { host: "127.0.0.1", port: 9000 });
  for (const bad of ["::1:53", "127.0.0.1", "127.0.0.1:http", "host:70000", "[::1]"]) {
    assert.throws(() => parseHostPort(bad), RangeError, bad);
  }
});

test("TcpCheck polls until stopped", async () => {
  const recorder = new UpdateRecorder();
  const check = new TcpCheck(
    runtime,
    { address: `127.0.0.1:${port}`, intervalMs: 100, timeoutMs: 1_000 },
    recorder.update,
  );
  assert.equal(check.type, "tcp");
  check.start();
  await recorder.nth(2);
  check.stop();
  assert.deepEqual(recorder.statuses().slice(0, 2), ["passing", "passing"]);
});
