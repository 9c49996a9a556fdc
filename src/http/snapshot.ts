/**
 * `/v1/snapshot`: GET saves the whole state as a cairn snapshot archive
 * (`src/storage/snapshot_archive.ts`), PUT restores one.
 *
 * A restore goes through the Raft log, so every server replaces its state at the same index and
 * no acknowledged write after it can be lost: the archive's checksum and the snapshot's shape are
 * checked first (a bad file is a 400 and changes nothing), then its body travels as
 * `restoreChunk` entries of 512 KiB, staged by every server, and a last `restore` entry swaps
 * the staged state in at its index (`src/core/state/snapshot.ts`). Each server then snapshots
 * at once and drops the chunks from its log; a follower that was behind is sent that snapshot
 * (InstallSnapshot). On a follower each entry is forwarded to the leader, as any write is.
 * Restores are bounded by `RESTORE_BYTES_MAX` (256 MiB of state; 413 above).
 *
 * @module
 */

import type { ApplyResult } from "../core/state/commands.ts";
import {
  decodeSnapshot,
  encodeSnapshot,
  RESTORE_BYTES_MAX,
  RESTORE_CHUNK_BYTES,
} from "../core/state/snapshot.ts";
import { randomUuid } from "../core/uuid.ts";
import type { Proposal } from "../server/proposal.ts";
import {
  decodeSnapshotArchive,
  encodeSnapshotArchive,
  SNAPSHOT_ARCHIVE_HEADER_BYTES,
} from "../storage/snapshot_archive.ts";
import { HttpError } from "./http_error.ts";
import { readBody } from "./json_input.ts";
import type { RequestContext, Routes } from "./routes.ts";

/**
 * Chunk entries proposed at once: enough to overlap their round trips, few enough that other
 * writers keep their share of the log.
 */
export const RESTORE_CHUNKS_IN_FLIGHT_MAX = 4;

/** Registers `GET` and `PUT /v1/snapshot`. */
export function registerSnapshotRoutes(routes: Routes): void {
  routes.add("/v1/snapshot", { GET: saveSnapshot, PUT: restoreSnapshot });
}

async function saveSnapshot(request: RequestContext): Promise<Response> {
  const store = request.backend.server.store;
  // The consistency mode (`?stale`, default, `?consistent`) as for any read; a snapshot does
  // not block, so `?index` is not looked at.
  await request.block(() => ({ index: store.lastIndex, value: null, topics: [], prefixes: [] }));
  // Synchronous from here: the index and the body describe the same state.
  const index = store.lastIndex;
  const archive = encodeSnapshotArchive(encodeSnapshot(store));
  return request.bytes(archive, { index });
}

async function restoreSnapshot(request: RequestContext): Promise<Response> {
  // Held in memory (on `-dev` as on a durable server): the checks below read it whole, and
  // it is bounded.
  const bytes = await readBody(
    request.hono.req.raw,
    SNAPSHOT_ARCHIVE_HEADER_BYTES + RESTORE_BYTES_MAX,
  );
  let body: Uint8Array;
  try {
    body = decodeSnapshotArchive(bytes);
    decodeSnapshot(body);
  } catch (error) {
    throw new HttpError(400, `Cannot restore the snapshot: ${(error as Error).message}`);
  }
  const id = randomUuid((bytes) => request.backend.runtime.randomBytes(bytes));
  const result = await proposeRestore(request.backend.server, body, id);
  if (!result.ok) {
    throw new HttpError(result.status, `Cannot restore the snapshot: ${result.error}`);
  }
  return request.text("", { index: result.value as number });
}

/**
 * Proposes a restore of `body` as its chunk entries, then the `restore` entry that applies it.
 * Stops at the first failure; the chunks already staged are dropped by the next restore, or
 * after `RESTORE_STAGING_IDLE_ENTRIES_MAX` entries.
 *
 * @param server where to propose (a leader, or a server that forwards to it)
 * @param body a checked state-snapshot body, at most `RESTORE_BYTES_MAX` bytes
 * @param id a new random id for this restore
 * @returns the `restore` entry's result (its index), or the first failure
 */
export async function proposeRestore(
  server: { propose(proposal: Proposal): Promise<ApplyResult> },
  body: Uint8Array,
  id: string,
): Promise<ApplyResult> {
  if (body.byteLength > RESTORE_BYTES_MAX) {
    return {
      ok: false,
      error: `${body.byteLength} bytes of state is above the ${RESTORE_BYTES_MAX} byte limit`,
      status: 413,
    };
  }
  const chunkCount = Math.max(1, Math.ceil(body.byteLength / RESTORE_CHUNK_BYTES));
  for (let first = 0; first < chunkCount; first += RESTORE_CHUNKS_IN_FLIGHT_MAX) {
    const proposals: Promise<ApplyResult>[] = [];
    for (let seq = first; seq < Math.min(chunkCount, first + RESTORE_CHUNKS_IN_FLIGHT_MAX); seq++) {
      const data = body.subarray(seq * RESTORE_CHUNK_BYTES, (seq + 1) * RESTORE_CHUNK_BYTES);
      proposals.push(server.propose({ type: "restoreChunk", id, seq, data }));
    }
    for (const result of await Promise.all(proposals)) if (!result.ok) return result;
  }
  return await server.propose({ type: "restore", id, chunkCount, bytes: body.byteLength });
}
