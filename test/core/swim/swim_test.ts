// Goal: the Swim core follows memberlist's rules one input at a time: probe, ack, indirect
// probe with nacks and TCP fallback, suspicion and its timeout, refutation, Lifeguard health,
// push/pull merge, join, leave, metadata updates and address conflicts. Method: a member "a"
// driven with explicit `nowMs` and hand-made decoded messages; its `poll()` outputs are checked.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { SeededRandom } from "../../../src/core/random.ts";
import {
  defaultLanConfig,
  Swim,
  type SwimAddress,
  type SwimConfig,
  type SwimOutput,
} from "../../../src/core/swim/mod.ts";
import type { Alive, MemberlistMessage, PushNodeState } from "../../../src/core/wire/mod.ts";

const versions = Uint8Array.of(1, 5, 2, 2, 5, 5);

function addressOf(index: number): SwimAddress {
  return { address: Uint8Array.of(127, 0, 0, index), port: 7946 };
}

function alive(name: string, index: number, incarnation = 1): { type: "alive" } & Alive {
  const { address, port } = addressOf(index);
  return {
    type: "alive",
    node: name,
    address,
    port,
    incarnation,
    meta: new Uint8Array(0),
    versions,
  };
}

function nodeState(name: string, index: number, state: number): PushNodeState {
  const { address, port, incarnation, meta } = alive(name, index);
  return { name, address, port, incarnation, meta, versions, state };
}

function drain(swim: Swim): SwimOutput[] {
  const outputs: SwimOutput[] = [];
  for (let output = swim.poll(); output !== undefined; output = swim.poll()) outputs.push(output);
  return outputs;
}

function packets(outputs: SwimOutput[]): Extract<SwimOutput, { type: "sendPacket" }>[] {
  return outputs.filter((o) => o.type === "sendPacket");
}

function allMessages(outputs: SwimOutput[]): MemberlistMessage[] {
  return packets(outputs).flatMap((o) => o.messages);
}

/** Member "a" at 127.0.0.1 knowing `peers` ("b" at .2, "c" at .3, ...), outputs drained. */
function member(peers: string[], config: Partial<SwimConfig> = {}): Swim {
  const swim = new Swim({
    name: "a",
    address: addressOf(1),
    random: new SeededRandom(3),
    config: { ...defaultLanConfig(), pushPullIntervalMs: 0, ...config },
  }, 0);
  const messages = peers.map((name, i) => alive(name, i + 2));
  swim.handle({ type: "packet", from: addressOf(2), messages }, 0);
  drain(swim);
  return swim;
}

/** Ticks until a probe ping leaves; returns it and the time. */
function nextProbe(
  swim: Swim,
): { ping: Extract<MemberlistMessage, { type: "ping" }>; atMs: number } {
  for (let i = 0; i < 10; i += 1) {
    const atMs = swim.nextDeadlineMs();
    swim.tick(atMs);
    const ping = allMessages(drain(swim)).find((m) => m.type === "ping");
    if (ping?.type === "ping") return { ping, atMs };
  }
  throw new Error("no probe within 10 deadlines");
}

describe("Swim", () => {
  test("a new member reports itself alive and queues its alive broadcast", () => {
    const swim = new Swim({ name: "a", address: addressOf(1), random: new SeededRandom(1) }, 0);
    const outputs = drain(swim);
    assert.deepEqual(outputs.map((o) => o.type), ["memberChanged"]);
    assert.equal(swim.member("a")?.state, "alive");
    assert.equal(swim.incarnation, 1);
    assert.equal(swim.stats().broadcastsQueued, 1);
  });

  test("`Swim.handle()` adds members from alive messages and re-broadcasts them", () => {
    const swim = new Swim({ name: "a", address: addressOf(1), random: new SeededRandom(1) }, 0);
    drain(swim);
    swim.handle({ type: "packet", from: addressOf(2), messages: [alive("b", 2)] }, 5);
    const changed = drain(swim).filter((o) => o.type === "memberChanged");
    assert.deepEqual(changed.map((o) => [o.name, o.state, o.previous]), [[
      "b",
      "alive",
      undefined,
    ]]);
    // An older or equal incarnation changes nothing.
    swim.handle({ type: "packet", from: addressOf(2), messages: [alive("b", 2)] }, 6);
    assert.deepEqual(drain(swim), []);
  });

  test("`Swim.handle()` answers a ping with an ack to its source address", () => {
    const swim = member(["b"]);
    const ping: MemberlistMessage = {
      type: "ping",
      sequence: 9,
      node: "a",
      sourceAddress: Uint8Array.of(127, 0, 0, 2),
      sourcePort: 8000,
      sourceNode: "b",
    };
    swim.handle({ type: "packet", from: addressOf(2), messages: [ping] }, 10);
    const [packet] = packets(drain(swim));
    assert.equal(packet.to.port, 8000);
    assert.deepEqual(packet.messages[0], { type: "ack", sequence: 9, payload: undefined });
    // A ping for another name is ignored.
    swim.handle({ type: "packet", from: addressOf(2), messages: [{ ...ping, node: "z" }] }, 11);
    assert.deepEqual(drain(swim), []);
    assert.equal(swim.stats().misaddressedPings, 1);
  });

  test("a probe acked within the timeout succeeds and lowers the health score", () => {
    const swim = member(["b", "c"]);
    const { ping, atMs } = nextProbe(swim);
    swim.handle(
      { type: "packet", from: addressOf(2), messages: [{ type: "nack", sequence: 0 }] },
      atMs,
    );
    swim.handle({
      type: "packet",
      from: addressOf(2),
      messages: [{ type: "ack", sequence: ping.sequence, payload: undefined }],
    }, atMs + 10);
    const complete = drain(swim).find((o) => o.type === "pingComplete");
    assert.ok(complete?.type === "pingComplete" && complete.rttMs === 10, "round trip reported");
    assert.equal(complete.name, ping.node);
    swim.tick(atMs + 999);
    assert.equal(packets(drain(swim)).some((p) => p.messages[0].type === "indirectPing"), false);
    assert.equal(swim.stats().failedProbes, 0);
    assert.equal(swim.healthScore, 0);
  });

  test("a missed ack leads to indirect pings with nacks, a TCP ping, then suspicion", () => {
    const swim = member(["b", "c", "d", "e"]);
    const { ping, atMs } = nextProbe(swim);
    swim.tick(atMs + 500);
    const outputs = drain(swim);
    const indirect = allMessages(outputs).filter((m) => m.type === "indirectPing");
    assert.equal(indirect.length, 3, "indirectChecks helpers");
    for (const request of indirect) {
      assert.ok(request.type === "indirectPing" && request.nack && request.node === ping.node);
      assert.equal(request.sequence, ping.sequence);
    }
    const stream = outputs.find((o) => o.type === "sendStream");
    assert.ok(stream?.type === "sendStream" && stream.message.type === "ping");
    assert.equal(stream.deadlineAtMs, atMs + 1_000);
    // One nack of three expected arrives: two missed nacks raise the score by 2.
    swim.handle({
      type: "packet",
      from: addressOf(3),
      messages: [{ type: "nack", sequence: ping.sequence }],
    }, atMs + 700);
    swim.tick(atMs + 1_000);
    const suspect = allMessages(drain(swim)).find((m) => m.type === "suspect");
    assert.deepEqual(suspect, { type: "suspect", node: ping.node, incarnation: 1, from: "a" });
    assert.equal(swim.member(ping.node)?.state, "suspect");
    assert.equal(swim.healthScore, 2);
    swim.handle(
      { type: "streamFailed", requestId: stream.requestId, reason: "refused" },
      atMs + 1_001,
    );
  });

  test("a late ack through a helper or TCP saves the probe without lowering the score", () => {
    const swim = member(["b", "c", "d"]);
    const { ping, atMs } = nextProbe(swim);
    swim.tick(atMs + 500);
    const stream = drain(swim).find((o) => o.type === "sendStream");
    assert.ok(stream?.type === "sendStream");
    swim.handle({
      type: "streamReply",
      requestId: stream.requestId,
      message: { type: "ack", sequence: ping.sequence, payload: undefined },
    }, atMs + 600);
    swim.tick(atMs + 1_000);
    assert.equal(swim.member(ping.node)?.state, "alive");
    assert.equal(swim.stats().failedProbes, 0);
  });

  test("a relay pings the target under its own sequence and acks or nacks the requester", () => {
    const swim = member(["b", "c"]);
    const request: MemberlistMessage = {
      type: "indirectPing",
      sequence: 77,
      target: Uint8Array.of(127, 0, 0, 3),
      port: 7946,
      node: "c",
      nack: true,
      sourceAddress: Uint8Array.of(127, 0, 0, 2),
      sourcePort: 7946,
      sourceNode: "b",
    };
    swim.handle({ type: "packet", from: addressOf(2), messages: [request] }, 100);
    const [relayPing] = allMessages(drain(swim)).filter((m) => m.type === "ping");
    assert.ok(relayPing.type === "ping" && relayPing.node === "c" && relayPing.sequence !== 77);
    swim.handle({
      type: "packet",
      from: addressOf(3),
      messages: [{ type: "ack", sequence: relayPing.sequence, payload: undefined }],
    }, 150);
    const [forwarded] = packets(drain(swim));
    assert.deepEqual(forwarded.to.address, Uint8Array.of(127, 0, 0, 2));
    assert.deepEqual(forwarded.messages[0], { type: "ack", sequence: 77, payload: undefined });
    // A second request that gets no ack ends in a nack after the probe timeout.
    swim.handle(
      { type: "packet", from: addressOf(2), messages: [{ ...request, sequence: 78 }] },
      200,
    );
    drain(swim);
    swim.tick(700);
    const nack = allMessages(drain(swim)).find((m) => m.type === "nack");
    assert.deepEqual(nack, { type: "nack", sequence: 78 });
  });

  test("a suspicion becomes dead at its timeout unless refuted by a newer alive", () => {
    const swim = member(["b", "c", "d"]);
    const accuse = { type: "suspect" as const, node: "b", incarnation: 1, from: "c" };
    swim.handle({ type: "packet", from: addressOf(3), messages: [accuse] }, 1_000);
    assert.equal(swim.member("b")?.state, "suspect");
    // 4 members: k = 2 confirmations expected (n - 2 >= 2), so the timer starts at max = 24 s.
    swim.tick(24_999);
    assert.equal(swim.member("b")?.state, "suspect");
    swim.tick(25_000);
    assert.equal(swim.member("b")?.state, "dead");
    // The dead broadcast rides on the next packets.
    const sent = allMessages(drain(swim));
    for (let i = 0; i < 5; i += 1) {
      swim.tick(swim.nextDeadlineMs());
      sent.push(...allMessages(drain(swim)));
    }
    const dead = sent.find((m) => m.type === "dead");
    assert.deepEqual(dead, { type: "dead", node: "b", incarnation: 1, from: "a" });

    const refuted = member(["b", "c", "d"]);
    refuted.handle({ type: "packet", from: addressOf(3), messages: [accuse] }, 1_000);
    refuted.handle({ type: "packet", from: addressOf(2), messages: [alive("b", 2, 2)] }, 2_000);
    refuted.tick(30_000);
    assert.equal(refuted.member("b")?.state, "alive");
    assert.equal(refuted.member("b")?.incarnation, 2);
  });

  test("confirmations from other accusers shorten the suspicion to the minimum", () => {
    const swim = member(["b", "c", "d", "e"]);
    const accuse = (from: string) => ({
      type: "suspect" as const,
      node: "b",
      incarnation: 1,
      from,
    });
    swim.handle({ type: "packet", from: addressOf(3), messages: [accuse("c")] }, 0);
    swim.handle({ type: "packet", from: addressOf(4), messages: [accuse("d")] }, 100);
    swim.handle({ type: "packet", from: addressOf(5), messages: [accuse("e")] }, 200);
    // 5 members: min = 4 * log10(5) -> scale 1 -> 4 s.
    swim.tick(3_999);
    assert.equal(swim.member("b")?.state, "suspect");
    swim.tick(4_000);
    assert.equal(swim.member("b")?.state, "dead");
  });

  test("a suspicion or death about ourselves is refuted with a higher incarnation", () => {
    const swim = member(["b", "c"]);
    swim.handle({
      type: "packet",
      from: addressOf(2),
      messages: [{ type: "suspect", node: "a", incarnation: 1, from: "b" }],
    }, 10);
    assert.equal(swim.incarnation, 2);
    assert.equal(swim.healthScore, 1);
    swim.handle({
      type: "packet",
      from: addressOf(2),
      messages: [{ type: "dead", node: "a", incarnation: 5, from: "b" }],
    }, 20);
    assert.equal(swim.incarnation, 6);
    assert.equal(swim.member("a")?.state, "alive");
    assert.equal(swim.stats().refutations, 2);
    // The refutation rides on the next packet.
    swim.tick(swim.nextDeadlineMs());
    const refutation = allMessages(drain(swim)).find((m) => m.type === "alive" && m.node === "a");
    assert.ok(refutation?.type === "alive" && refutation.incarnation === 6);
  });

  test("a dead message from the member itself marks it left", () => {
    const swim = member(["b"]);
    swim.handle({
      type: "packet",
      from: addressOf(2),
      messages: [{ type: "dead", node: "b", incarnation: 1, from: "b" }],
    }, 10);
    assert.equal(swim.member("b")?.state, "left");
    // A left member may come back at a new address with a newer incarnation.
    swim.handle({ type: "packet", from: addressOf(9), messages: [alive("b", 9, 2)] }, 20);
    assert.equal(swim.member("b")?.state, "alive");
    assert.deepEqual(swim.member("b")?.address, Uint8Array.of(127, 0, 0, 9));
  });

  test("an alive message claiming a known name from another address is a conflict", () => {
    const swim = member(["b"]);
    swim.handle({ type: "packet", from: addressOf(9), messages: [alive("b", 9, 5)] }, 10);
    const outputs = drain(swim);
    assert.deepEqual(outputs.map((o) => o.type), ["conflict"]);
    assert.equal(swim.member("b")?.incarnation, 1);
  });

  test("`Swim.join()` sends a join push/pull and merges the reply as memberlist does", () => {
    const swim = new Swim({
      name: "a",
      address: addressOf(1),
      random: new SeededRandom(1),
      userState: (join) => Uint8Array.of(2, join ? 1 : 0),
    }, 0);
    drain(swim);
    const [requestId] = swim.join([addressOf(2)], 0);
    const [request] = drain(swim);
    assert.ok(request.type === "sendStream" && request.message.type === "pushPull");
    assert.equal(request.message.join, true);
    assert.deepEqual(request.message.userState, Uint8Array.of(2, 1));
    assert.deepEqual(request.message.nodes.map((n) => n.name), ["a"]);
    const state = nodeState;
    swim.handle({
      type: "streamReply",
      requestId,
      message: {
        type: "pushPull",
        join: true,
        nodes: [
          state("b", 2, 0),
          state("c", 3, 0),
          state("c", 3, 2),
          state("d", 4, 0),
          state("d", 4, 3),
        ],
        userState: Uint8Array.of(2, 9),
      },
    }, 50);
    const outputs = drain(swim);
    // A remote's dead is only a suspicion here; a remote's left is left.
    assert.equal(swim.member("b")?.state, "alive");
    assert.equal(swim.member("c")?.state, "suspect");
    assert.equal(swim.member("d")?.state, "left");
    assert.ok(outputs.some((o) => o.type === "remoteState" && o.userState[1] === 9));
    assert.ok(outputs.some((o) => o.type === "joinFinished" && o.ok && o.requestId === requestId));
  });

  test("packets carry memberlist's own broadcasts first, then user ones in the room left", () => {
    // memberlist's getBroadcasts takes its own queue first and asks the delegate (Serf) for
    // the rest: a burst of Serf messages never crowds out news about members.
    const swim = member(["b", "c", "d"]);
    for (let i = 0; i < 14; i += 1) swim.broadcastUser(new Uint8Array(120).fill(i));
    const atMs = swim.nextDeadlineMs();
    swim.tick(atMs);
    const [first] = packets(drain(swim));
    const messages = first.messages.filter((m) => m.type !== "ping");
    const kinds = messages.map((m) => m.type);
    const lastOwn = kinds.findLastIndex((kind) => kind !== "user");
    const firstUser = kinds.indexOf("user");
    assert.ok(kinds.filter((kind) => kind === "alive").length >= 3, `sent ${kinds}`);
    assert.ok(firstUser === -1 || lastOwn < firstUser, `sent ${kinds}`);
    assert.ok(firstUser !== -1, `no room was left for user messages: sent ${kinds}`);
  });

  test("periodic push/pull waits a stagger and then a whole interval, as memberlist", () => {
    // memberlist's pushPullTrigger sleeps a random stagger below the interval, then the scaled
    // interval, before its first push/pull: one right after start-up only adds load.
    const intervalMs = 30_000;
    const swim = member(["b"], { pushPullIntervalMs: intervalMs });
    const pushPullsAtMs: number[] = [];
    while (swim.nextDeadlineMs() < 4 * intervalMs) {
      const atMs = swim.nextDeadlineMs();
      swim.tick(atMs);
      for (const output of drain(swim)) {
        if (output.type === "sendStream" && output.message.type === "pushPull") {
          pushPullsAtMs.push(atMs);
          swim.handle({ type: "streamFailed", requestId: output.requestId, reason: "x" }, atMs);
        }
        // Keep "b" alive: answer every probe.
        const ping = output.type === "sendPacket" ? output.messages[0] : undefined;
        if (ping?.type === "ping") {
          const ack: MemberlistMessage = {
            type: "ack",
            sequence: ping.sequence,
            payload: undefined,
          };
          swim.handle({ type: "packet", from: addressOf(2), messages: [ack] }, atMs);
        }
      }
    }
    assert.equal(swim.member("b")?.state, "alive");
    assert.ok(pushPullsAtMs.length >= 2, `push/pulls at ${pushPullsAtMs}`);
    assert.ok(pushPullsAtMs[0] >= intervalMs, `first push/pull at ${pushPullsAtMs[0]} ms`);
    assert.ok(pushPullsAtMs[0] < 2 * intervalMs, `first push/pull at ${pushPullsAtMs[0]} ms`);
    assert.equal(pushPullsAtMs[1] - pushPullsAtMs[0], intervalMs);
  });

  test("an incoming push/pull gets our state back before theirs is merged", () => {
    const swim = member(["b"]);
    swim.handle({
      type: "stream",
      streamId: 4,
      from: addressOf(3),
      message: {
        type: "pushPull",
        join: true,
        nodes: [nodeState("c", 3, 0)],
        userState: new Uint8Array(0),
      },
    }, 10);
    const [reply] = drain(swim);
    assert.ok(reply.type === "replyStream" && reply.streamId === 4);
    assert.ok(reply.message.type === "pushPull");
    assert.deepEqual(reply.message.nodes.map((n) => n.name).sort(), ["a", "b"]);
    assert.equal(swim.member("c")?.state, "alive");
  });

  test("`Swim.leave()` broadcasts dead about itself and reports when it has gone out", () => {
    const swim = member(["b"]);
    swim.leave(10);
    assert.equal(swim.member("a")?.state, "left");
    const sent: MemberlistMessage[] = [];
    let done = false;
    for (let i = 0; i < 200 && !done; i += 1) {
      swim.tick(swim.nextDeadlineMs());
      const outputs = drain(swim);
      sent.push(...allMessages(outputs));
      done = outputs.some((o) => o.type === "leaveBroadcastDone");
    }
    assert.ok(done, "leaveBroadcastDone never came");
    const leaves = sent.filter((m) => m.type === "dead" && m.node === "a" && m.from === "a");
    assert.equal(leaves.length, 4, "retransmitMult * ceil(log10(2 + 1)) transmissions");
    // Alive messages about ourselves no longer make us refute.
    swim.handle({ type: "packet", from: addressOf(2), messages: [alive("a", 1, 9)] }, 1_000_000);
    assert.equal(swim.member("a")?.state, "left");
  });

  test("`Swim.setMeta()` bumps the incarnation and broadcasts the new meta", () => {
    const swim = member(["b"]);
    swim.setMeta(Uint8Array.of(0xff, 0x80), 10);
    assert.equal(swim.incarnation, 2);
    const changed = drain(swim).find((o) => o.type === "memberChanged");
    assert.ok(changed?.type === "memberChanged" && changed.meta[0] === 0xff);
    assert.throws(() => swim.setMeta(new Uint8Array(513), 20), /512/);
  });

  test("dead members are forgotten after gossipToTheDeadTime, at the end of a probe round", () => {
    const swim = member(["b", "c"], { gossipToTheDeadTimeMs: 5_000 });
    swim.handle({
      type: "packet",
      from: addressOf(3),
      messages: [{ type: "dead", node: "b", incarnation: 1, from: "c" }],
    }, 0);
    let removed = false;
    for (let i = 0; i < 200 && !removed; i += 1) {
      const atMs = swim.nextDeadlineMs();
      swim.tick(atMs);
      removed = drain(swim).some((o) => o.type === "memberRemoved" && o.name === "b");
      if (removed) assert.ok(atMs > 5_000, `removed at ${atMs}`);
    }
    assert.ok(removed);
    assert.equal(swim.member("b"), undefined);
  });

  test("`Swim.tick()` refuses to move time backwards", () => {
    const swim = member([]);
    swim.tick(100);
    assert.throws(() => swim.tick(99), /backwards/);
  });
});
