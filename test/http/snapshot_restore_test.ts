// Goal: `proposeRestore()` (behind `PUT /v1/snapshot`) sends a snapshot body as numbered
// `restoreChunk` proposals of at most `RESTORE_CHUNK_BYTES`, at most
// `RESTORE_CHUNKS_IN_FLIGHT_MAX` at once, then one `restore` naming them; stops at the first
// failed chunk without proposing the `restore`; and refuses a body over `RESTORE_BYTES_MAX` with
// a 413 before proposing anything. Method: a fake server that records proposals.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ApplyResult } from "../../src/core/state/commands.ts";
import { RESTORE_BYTES_MAX, RESTORE_CHUNK_BYTES } from "../../src/core/state/snapshot.ts";
import { proposeRestore, RESTORE_CHUNKS_IN_FLIGHT_MAX } from "../../src/http/snapshot.ts";
import type { Proposal } from "../../src/server/proposal.ts";

function recordingServer(fail?: (proposal: Proposal) => ApplyResult | undefined) {
  const proposals: Proposal[] = [];
  let inFlight = 0;
  let inFlightMax = 0;
  return {
    proposals,
    get inFlightMax() {
      return inFlightMax;
    },
    async propose(proposal: Proposal): Promise<ApplyResult> {
      proposals.push(proposal);
      inFlight += 1;
      inFlightMax = Math.max(inFlightMax, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      inFlight -= 1;
      return fail?.(proposal) ?? { ok: true, value: proposals.length };
    },
  };
}

describe("proposeRestore()", () => {
  it("proposes numbered chunks, a bounded number at once, then the restore", async () => {
    const body = new Uint8Array(Math.floor(RESTORE_CHUNK_BYTES * 9.5));
    for (let at = 0; at < body.length; at += 997) body[at] = at % 251;
    const server = recordingServer();
    const result = await proposeRestore(server, body, "id-1");
    assert.equal(result.ok, true);
    const chunks = server.proposals.slice(0, -1);
    assert.equal(chunks.length, 10);
    assert.ok(server.inFlightMax <= RESTORE_CHUNKS_IN_FLIGHT_MAX, `${server.inFlightMax}`);
    const joined = new Uint8Array(body.length);
    let offset = 0;
    chunks.forEach((proposal, seq) => {
      assert.equal(proposal.type, "restoreChunk");
      if (proposal.type !== "restoreChunk") return;
      assert.equal(proposal.seq, seq);
      assert.equal(proposal.id, "id-1");
      assert.ok(proposal.data.byteLength <= RESTORE_CHUNK_BYTES);
      joined.set(proposal.data, offset);
      offset += proposal.data.byteLength;
    });
    assert.deepEqual(joined, body);
    assert.deepEqual(server.proposals.at(-1), {
      type: "restore",
      id: "id-1",
      chunkCount: 10,
      bytes: body.length,
    });
  });

  it("stops at a failed chunk and proposes no restore", async () => {
    const failure: ApplyResult = { ok: false, error: "No cluster leader", status: 500 };
    const server = recordingServer((proposal) =>
      proposal.type === "restoreChunk" && proposal.seq === 5 ? failure : undefined
    );
    const result = await proposeRestore(server, new Uint8Array(RESTORE_CHUNK_BYTES * 12), "id");
    assert.deepEqual(result, failure);
    assert.ok(server.proposals.every((proposal) => proposal.type === "restoreChunk"));
    assert.ok(server.proposals.length < 12);
  });

  it("refuses a body over RESTORE_BYTES_MAX with a 413 and proposes nothing", async () => {
    const server = recordingServer();
    const result = await proposeRestore(server, new Uint8Array(RESTORE_BYTES_MAX + 1), "id");
    assert.equal(result.ok, false);
    assert.equal((result as { status: number }).status, 413);
    assert.equal(server.proposals.length, 0);
  });
});
