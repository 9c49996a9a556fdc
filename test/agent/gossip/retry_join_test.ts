// Goal: join addresses parse as Consul's (`host`, `host:port`, `[v6]:port`, default port 8301),
// host names are refused with a message naming the fix, and Consul's LAN tags are complete.
// RetryJoin backs off to retry_interval and gives up after retry_max.
// Method: plain calls with literal inputs; RetryJoin on manual timers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { consulTags, parseJoinAddress, RetryJoin } from "../../../src/agent/gossip/mod.ts";
import type { Runtime } from "../../../src/runtime.ts";

test("parseJoinAddress() takes host, host:port and [v6]:port, with port 8301 by default", () => {
  assert.deepEqual(parseJoinAddress("127.0.0.3", 8301), { host: "127.0.0.3", port: 8301 });
  assert.deepEqual(parseJoinAddress("127.0.0.3:7946", 8301), { host: "127.0.0.3", port: 7946 });
  assert.deepEqual(parseJoinAddress("[::1]:7946", 8301), { host: "::1", port: 7946 });
  assert.deepEqual(parseJoinAddress("::1", 8301), { host: "::1", port: 8301 });
  assert.throws(() => parseJoinAddress("consul.example:8301", 8301), /give an IP address/);
  assert.throws(() => parseJoinAddress("127.0.0.3:70000", 8301), /port must be 1 to 65535/);
});

test("consulTags() gives servers role consul with their RPC port, clients role node", () => {
  const base = {
    datacenter: "dc1",
    nodeId: "9b11685f-dcfa-4fbc-91b3-c948748285a6",
    serverPort: 8300,
    bootstrapExpect: 0,
    dev: true,
    version: "0.1.0",
  };
  assert.deepEqual(consulTags({ ...base, server: true }), {
    role: "consul",
    dc: "dc1",
    id: base.nodeId,
    vsn: "2",
    vsn_min: "2",
    vsn_max: "3",
    build: "0.1.0:cairn",
    port: "8300",
    raft_vsn: "3",
    bootstrap: "1",
  });
  const client = consulTags({ ...base, server: false, dev: false });
  assert.equal(client.role, "node");
  assert.equal(client.port, undefined);
  assert.equal(consulTags({ ...base, server: true, dev: false, bootstrapExpect: 3 }).expect, "3");
});

/** A runtime with only manual timers: `advance()` fires what is due, in order. */
function manualTimers() {
  let nowMs = 0;
  const due: { atMs: number; fire: () => void; cancelled: boolean }[] = [];
  const runtime = {
    timers: {
      after(delayMs: number, fire: () => void) {
        const timer = { atMs: nowMs + delayMs, fire, cancelled: false };
        due.push(timer);
        return { cancel: () => timer.cancelled = true };
      },
    },
  } as unknown as Runtime;
  return {
    runtime,
    /** Waits set so far, in ms. */
    delays: [] as number[],
    async advance(): Promise<boolean> {
      due.sort((a, b) => a.atMs - b.atMs);
      const next = due.shift();
      if (next === undefined) return false;
      this.delays.push(next.atMs - nowMs);
      nowMs = next.atMs;
      if (!next.cancelled) next.fire();
      await new Promise((resolve) => setTimeout(resolve, 0));
      return true;
    },
  };
}

test("RetryJoin waits double from 1 s up to retry_interval, and gives up after retry_max", async () => {
  const timers = manualTimers();
  const given: string[] = [];
  const warnings: string[] = [];
  const retry = new RetryJoin(timers.runtime, {
    addresses: [{ host: "127.0.20.9", port: 8301 }],
    join: () => Promise.resolve({ joined: 0, errors: ["connection refused"] }),
    log: { info() {}, warn: (line) => warnings.push(line) },
    intervalMs: 5_000,
    maxAttempts: 6,
    onGiveUp: (reason) => given.push(reason),
  });
  retry.start();
  await new Promise((resolve) => setTimeout(resolve, 0));
  while (await timers.advance()) { /* fire every wait */ }
  assert.deepEqual(timers.delays, [1_000, 2_000, 4_000, 5_000, 5_000]);
  assert.equal(retry.attempts, 6);
  assert.deepEqual(given, ["join failed 6 times (retry_max): connection refused"]);
  assert.match(warnings.at(-1)!, /giving up$/);
});

test("RetryJoin retries forever by default and stops once an attempt joins", async () => {
  const timers = manualTimers();
  let calls = 0;
  const retry = new RetryJoin(timers.runtime, {
    addresses: [{ host: "127.0.20.9", port: 8301 }],
    join: () =>
      Promise.resolve(++calls < 40 ? { joined: 0, errors: ["no"] } : { joined: 1, errors: [] }),
    log: { info() {}, warn() {} },
  });
  retry.start();
  await new Promise((resolve) => setTimeout(resolve, 0));
  while (await timers.advance()) { /* fire every wait */ }
  assert.equal(retry.joined, true);
  assert.equal(calls, 40);
  assert.equal(Math.max(...timers.delays), 30_000);
});

test("RetryJoin refuses a retry_interval or retry_max out of range", () => {
  const base = {
    addresses: [{ host: "127.0.20.9", port: 8301 }],
    join: () => Promise.resolve({ joined: 1, errors: [] }),
    log: { info() {}, warn() {} },
  };
  const runtime = manualTimers().runtime;
  assert.throws(() => new RetryJoin(runtime, { ...base, intervalMs: 0 }), /every 0 ms/);
  assert.throws(() => new RetryJoin(runtime, { ...base, maxAttempts: -1 }), /-1 times/);
});
