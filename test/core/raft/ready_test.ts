// Goal: the core hands the shell no empty Ready on a write's hot path: once a write is
// committed and its commit news is out, the other follower's ack leaves nothing to do, so
// `hasReady()` is false (each empty Ready cost the server a turn of its ready loop per write).
// Method: a 3-server harness elects a leader; one write is then stepped by hand, message by
// message, and `hasReady()` is read after each ack.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Message } from "../../../src/core/raft/messages.ts";
import { bytes, Harness } from "./_harness.ts";

/** Takes `id`'s Ready (which must exist), confirms it, and returns its messages. */
function take(h: Harness, id: string): Message[] {
  const raft = h.get(id);
  assert.ok(raft.hasReady(), `${id} has a Ready`);
  const ready = raft.ready();
  raft.advance();
  return [...ready.messagesToSend];
}

test("Raft.hasReady() is false after a committed write's last ack", () => {
  const h = new Harness(["a", "b", "c"], { checkQuorum: false, preVote: false });
  const leaderId = h.elect();
  const leader = h.get(leaderId);
  const [first, second] = ["a", "b", "c"].filter((id) => id !== leaderId);
  assert.equal(leader.propose(bytes("x")).type, "accepted");
  const appends = take(h, leaderId);
  assert.deepEqual(
    appends.map((m) => [m.type, m.to]).sort(),
    [
      ["appendEntries", first],
      ["appendEntries", second],
    ].sort(),
  );
  const acks = new Map<string, Message[]>();
  for (const append of appends) {
    h.get(append.to).step(append);
    acks.set(append.to, take(h, append.to));
  }
  // The first ack commits the write: the Ready applies it and tells both followers.
  for (const ack of acks.get(first)!) leader.step(ack);
  assert.ok(leader.hasReady());
  const commitReady = leader.ready();
  leader.advance();
  assert.equal(commitReady.committedEntries.at(-1)?.index, leader.lastIndex);
  assert.deepEqual(commitReady.messagesToSend.map((m) => m.to).sort(), [first, second].sort());
  // The second ack: that follower has every entry and its commit news is on the way.
  for (const ack of acks.get(second)!) leader.step(ack);
  assert.equal(leader.hasReady(), false);
  // Nothing was lost by not taking a Ready: the cluster settles with the write everywhere.
  for (const message of commitReady.messagesToSend) h.get(message.to).step(message);
  h.settle();
  for (const id of ["a", "b", "c"]) {
    assert.equal(h.get(id).commitIndex, leader.lastIndex, `${id} learnt the commit`);
  }
});
