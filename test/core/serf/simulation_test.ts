// Goal: several Serf cores on a fake memberlist behave as a Serf cluster: a user event and a
// query reach every member (each acks and responds once), and after a graceful leave and a
// crash every survivor agrees on "left" and "failed". Method: 7 cores in one process; the fake
// memberlist keeps each core's broadcasts in a retransmit-limited queue and, every 200 ms
// round, sends each queued broadcast to 3 random up members (as memberlist piggybacks gossip),
// routes direct user messages by address, and reports joins, leaves and failures to everyone.
// Time is virtual; the random source is seeded, so a failure reproduces exactly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBelow, SeededRandom } from "../../../src/core/random.ts";
import type { Serf, SerfInput, SerfOutput } from "../../../src/core/serf/mod.ts";
import { bytes, makeSerf, nodeOf } from "./_harness.ts";

interface SimNode {
  serf: Serf;
  index: number;
  up: boolean;
  queue: { payload: Uint8Array; remaining: number }[];
  inbox: SerfInput[];
  log: SerfOutput[];
}

class FakeMemberlist {
  readonly nodes = new Map<string, SimNode>();
  readonly random = new SeededRandom(11);
  nowMs = 0;

  constructor(count: number) {
    for (let i = 0; i < count; i += 1) {
      const name = `node-${i}`;
      const serf = makeSerf(name, 10 + i, {
        tags: { role: i % 2 === 0 ? "web" : "db" },
        seed: 100 + i,
      });
      this.nodes.set(name, { serf, index: 10 + i, up: true, queue: [], inbox: [], log: [] });
    }
    // Everyone joins everyone (memberlist's push/pull would do this), then announces its join.
    for (const node of this.nodes.values()) {
      for (const [name, other] of this.nodes) {
        if (other !== node) {
          node.serf.handle({ type: "memberJoined", node: nodeOf(name, other.index) }, 0);
        }
      }
      node.serf.handle({ type: "joinFinished", contacted: this.nodes.size - 1 }, 0);
    }
  }

  node(name: string): SimNode {
    return this.nodes.get(name)!;
  }

  /** One gossip round: drain outputs, deliver inboxes, piggyback queued broadcasts, tick. */
  round(): void {
    this.nowMs += 200;
    for (const [name, node] of this.nodes) if (node.up) this.#carryOut(name, node);
    for (const node of this.nodes.values()) {
      if (!node.up) continue;
      for (const input of node.inbox.splice(0)) node.serf.handle(input, this.nowMs);
    }
    for (const [name, node] of this.nodes) if (node.up) this.#gossip(name, node);
    for (const node of this.nodes.values()) {
      const deadline = node.serf.nextDeadlineMs();
      if (node.up && deadline !== undefined && deadline <= this.nowMs) node.serf.tick(this.nowMs);
    }
  }

  runMs(durationMs: number): void {
    const endMs = this.nowMs + durationMs;
    while (this.nowMs < endMs) this.round();
  }

  crash(name: string): void {
    this.node(name).up = false;
    this.#reportGone(name);
  }

  #reportGone(name: string): void {
    for (const [other, node] of this.nodes) {
      if (other !== name && node.up) node.inbox.push({ type: "memberLeft", name });
    }
  }

  #carryOut(name: string, node: SimNode): void {
    const retransmits = 3 * Math.ceil(Math.log10(this.nodes.size + 1));
    for (let output = node.serf.poll(); output !== undefined; output = node.serf.poll()) {
      node.log.push(output);
      if (output.type === "broadcast") {
        node.queue.push({ payload: output.payload, remaining: retransmits });
      }
      if (output.type === "sendUserMessage") {
        const to = [...this.nodes.values()].find((n) => n.index === output.to.address[3]);
        if (to?.up) to.inbox.push({ type: "userMessage", payload: output.payload });
      }
      if (output.type === "queryReceived") {
        node.serf.respond(output.query.handle, bytes(name), this.nowMs);
      }
      if (output.type === "leaveMemberlist") {
        this.#reportGone(name);
        node.inbox.push({ type: "memberlistLeft" });
      }
      if (output.type === "left") node.up = false;
    }
    // Re-gossip must stop (only new intents and events are re-broadcast): a storm fails fast.
    assert.ok(node.queue.length < 1_000, `Cannot simulate: ${name} queued a broadcast storm`);
    // A leave intent counts as sent once its retransmits are done (memberlist's notify).
    if (node.serf.state === "leaving" && node.queue.length === 0) {
      node.inbox.push({ type: "leaveIntentSent" });
    }
  }

  #gossip(name: string, node: SimNode): void {
    const peers = [...this.nodes.entries()].filter(([other, n]) => other !== name && n.up);
    for (let i = 0; i < 3 && peers.length > 0; i += 1) {
      const [, peer] = peers.splice(randomBelow(this.random, peers.length), 1)[0];
      for (const item of node.queue) {
        peer.inbox.push({ type: "userMessage", payload: item.payload });
      }
    }
    for (const item of node.queue) item.remaining -= 1;
    node.queue = node.queue.filter((item) => item.remaining > 0);
  }
}

test("Serf cluster: an event and a query reach every member", () => {
  const cluster = new FakeMemberlist(7);
  cluster.runMs(2_000);
  const origin = cluster.node("node-0");
  origin.serf.userEvent("deploy", bytes("v2"), false, cluster.nowMs);
  const { id } = origin.serf.query(
    "whoami",
    bytes(""),
    { requestAck: true, timeoutMs: 3_000 },
    cluster.nowMs,
  );
  cluster.runMs(4_000);
  for (const [name, node] of cluster.nodes) {
    const events = node.log.filter((o) => o.type === "userEvent" && o.name === "deploy");
    assert.equal(events.length, 1, `${name} got the event once`);
    assert.equal(
      node.log.filter((o) => o.type === "queryReceived").length,
      1,
      `${name} got the query`,
    );
  }
  const acks = origin.log.filter((o) => o.type === "queryAck" && o.id === id);
  const responses = origin.log.filter((o) => o.type === "queryResponse" && o.id === id);
  assert.equal(acks.length, 7);
  assert.deepEqual(
    responses.map((o) => o.type === "queryResponse" ? new TextDecoder().decode(o.payload) : "")
      .sort(),
    [...cluster.nodes.keys()].sort(),
  );
  const closed = origin.log.find((o) => o.type === "queryClosed");
  assert.ok(closed?.type === "queryClosed" && closed.acks === 7 && closed.responses === 7);
});

test("Serf cluster: a tag-filtered query reaches only matching members", () => {
  const cluster = new FakeMemberlist(6);
  cluster.runMs(1_000);
  cluster.node("node-1").serf.query("db-only", bytes(""), {
    filterTags: { role: "^db$" },
    timeoutMs: 2_000,
  }, cluster.nowMs);
  cluster.runMs(3_000);
  const received = [...cluster.nodes].filter(([, n]) =>
    n.log.some((o) => o.type === "queryReceived")
  );
  assert.deepEqual(received.map(([name]) => name), ["node-1", "node-3", "node-5"]);
});

test("Serf cluster: members converge on left after a leave and failed after a crash", () => {
  const cluster = new FakeMemberlist(7);
  cluster.runMs(2_000);
  cluster.node("node-3").serf.leave(cluster.nowMs);
  cluster.crash("node-5");
  cluster.runMs(5_000);
  assert.equal(cluster.node("node-3").serf.state, "left");
  for (const [name, node] of cluster.nodes) {
    if (name === "node-3" || name === "node-5") continue;
    assert.equal(node.serf.member("node-3")?.status, "left", `${name} sees node-3 left`);
    assert.equal(node.serf.member("node-5")?.status, "failed", `${name} sees node-5 failed`);
    const alive = node.serf.members().filter((m) => m.status === "alive").length;
    assert.equal(alive, 5, `${name} sees 5 alive`);
  }
  // A force-leave of the crashed member from one survivor reaches all others.
  cluster.node("node-0").serf.forceLeave("node-5", cluster.nowMs);
  cluster.runMs(3_000);
  for (const [name, node] of cluster.nodes) {
    if (name === "node-3" || name === "node-5") continue;
    assert.equal(node.serf.member("node-5")?.status, "left", `${name} sees node-5 force-left`);
  }
});
