/**
 * `/v1/snapshot`: GET saves the whole state as a cairn snapshot archive
 * (`src/storage/snapshot_archive.ts`), PUT restores one. A restore is a Raft entry
 * (`{ type: "restore" }`), so every server applies the same state at the same index; the
 * archive's checksum and the snapshot's shape are checked before it is proposed.
 *
 * A restore travels as one log entry, so it is bounded by the Raft entry limit (`entryBytesMax`,
 * 1 MiB by default): larger snapshots are refused with a 413 rather than applied on one server.
 *
 * @module
 */

import { decodeSnapshot, encodeSnapshot } from "../core/state/snapshot.ts";
import {
  decodeSnapshotArchive,
  encodeSnapshotArchive,
  SNAPSHOT_ARCHIVE_BYTES_MAX,
} from "../storage/snapshot_archive.ts";
import { HttpError } from "./http_error.ts";
import { readBody } from "./json_input.ts";
import type { RequestContext, Routes } from "./routes.ts";

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
  const bytes = await readBody(request.hono.req.raw, SNAPSHOT_ARCHIVE_BYTES_MAX);
  let body: Uint8Array;
  try {
    body = decodeSnapshotArchive(bytes);
    decodeSnapshot(body);
  } catch (error) {
    throw new HttpError(400, `Cannot restore the snapshot: ${(error as Error).message}`);
  }
  const result = await request.backend.server.propose({ type: "restore", snapshot: body });
  if (!result.ok) {
    throw new HttpError(result.status, `Cannot restore the snapshot: ${result.error}`);
  }
  return request.text("", { index: result.value as number });
}
