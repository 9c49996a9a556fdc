/**
 * `cairn snapshot save|restore|inspect`: the state as a snapshot archive
 * (`src/storage/snapshot_archive.ts`) over `/v1/snapshot`, with the messages of Consul's
 * `command/snapshot/*`. `inspect` reads the file locally and talks to no agent.
 *
 * @module
 */

import { readFileAtPath } from "../agent/config_file.ts";
import { decodeSnapshot, type StateSnapshot } from "../core/state/snapshot.ts";
import type { Runtime } from "../runtime.ts";
import { decodeSnapshotArchive, SNAPSHOT_ARCHIVE_BYTES_MAX } from "../storage/snapshot_archive.ts";
import { type Command, errorMessage } from "./command.ts";
import { FlagError, type Flags } from "./flags.ts";
import { createHttpClient } from "./http_client.ts";
import { tabulate } from "./table.ts";

/** `cairn snapshot save`. */
export const snapshotSaveCommand: Command = {
  name: "snapshot save",
  synopsis: "Saves snapshot of Consul server state",
  arguments: "[options] FILE",
  description: "Retrieves an atomic, point-in-time snapshot of the state of the servers (the " +
    "catalog, KV, sessions) and writes it to FILE after checking it. -stale lets any server " +
    "answer.",
  http: true,
  flags: {},
  run: async (context, flags) => {
    const path = fileArgument(flags);
    const client = await createHttpClient(context.runtime, flags);
    let bytes: Uint8Array;
    try {
      const response = await client.send("GET", "/v1/snapshot");
      const declared = Number(response.headers.get("Content-Length") ?? "0");
      if (declared > SNAPSHOT_ARCHIVE_BYTES_MAX) {
        await response.body?.cancel();
        throw new RangeError(`${declared} bytes is above ${SNAPSHOT_ARCHIVE_BYTES_MAX}`);
      }
      bytes = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      context.err(`Error saving snapshot: ${errorMessage(error)}`);
      return 1;
    }
    let snapshot: StateSnapshot;
    try {
      snapshot = readArchive(bytes);
    } catch (error) {
      context.err(`Error verifying snapshot file: ${errorMessage(error)}`);
      return 1;
    }
    try {
      await writeFileAtPath(context.runtime, path, bytes);
    } catch (error) {
      context.err(`Error writing snapshot file "${path}": ${errorMessage(error)}`);
      return 1;
    }
    context.out(`Saved and verified snapshot to index ${snapshot.lastIndex}`);
    return 0;
  },
};

/** `cairn snapshot restore`. */
export const snapshotRestoreCommand: Command = {
  name: "snapshot restore",
  synopsis: "Restores snapshot of Consul server state",
  arguments: "[options] FILE",
  description: "Replaces the state of the servers (the catalog, KV, sessions) with the " +
    "snapshot in FILE, through Raft, so every server holds the same state. Meant for disaster " +
    "recovery: every write since the snapshot is lost.",
  http: true,
  flags: {},
  run: async (context, flags) => {
    const path = fileArgument(flags);
    let bytes: Uint8Array;
    try {
      bytes = await readSnapshotFile(context.runtime, path);
      readArchive(bytes);
    } catch (error) {
      context.err(`Error reading snapshot file "${path}": ${errorMessage(error)}`);
      return 1;
    }
    const client = await createHttpClient(context.runtime, flags);
    try {
      await client.send("PUT", "/v1/snapshot", { body: bytes });
    } catch (error) {
      context.err(`Error restoring snapshot: ${errorMessage(error)}`);
      return 1;
    }
    context.out("Restored snapshot");
    return 0;
  },
};

/** `cairn snapshot inspect`. */
export const snapshotInspectCommand: Command = {
  name: "snapshot inspect",
  synopsis: "Displays information about a Consul snapshot file",
  arguments: "[options] FILE",
  description: "Checks the snapshot in FILE and prints its index, size and how many records " +
    "of each kind it holds. Reads the file only; talks to no agent.",
  http: false,
  flags: {},
  run: async (context, flags) => {
    const path = fileArgument(flags);
    let bytes: Uint8Array;
    let snapshot: StateSnapshot;
    try {
      bytes = await readSnapshotFile(context.runtime, path);
      snapshot = readArchive(bytes);
    } catch (error) {
      context.err(`Error inspecting snapshot file "${path}": ${errorMessage(error)}`);
      return 1;
    }
    context.out(formatSnapshotSummary(snapshot, bytes.length));
    return 0;
  },
};

/**
 * The `snapshot inspect` table: index, size and record counts, aligned as Consul's tabwriter.
 *
 * @param snapshot the decoded state snapshot
 * @param sizeBytes the archive's size
 * @returns the text, no final newline
 */
export function formatSnapshotSummary(snapshot: StateSnapshot, sizeBytes: number): string {
  const rows: [string, number][] = [
    ["Index", snapshot.lastIndex],
    ["Size", sizeBytes],
    ["Version", snapshot.version],
    ["Nodes", snapshot.nodes.length],
    ["Services", snapshot.services.length],
    ["Checks", snapshot.checks.length],
    ["KV", snapshot.kv.length],
    ["Sessions", snapshot.sessions.length],
  ];
  return tabulate(rows.map(([name, value]) => [` ${name}`, String(value)]));
}

function readArchive(bytes: Uint8Array): StateSnapshot {
  return decodeSnapshot(decodeSnapshotArchive(bytes));
}

function fileArgument(flags: Flags): string {
  const args = flags.positionals;
  if (args.length !== 1) {
    throw new FlagError(`Cannot use the arguments: expected one FILE, got ${args.length}`);
  }
  return args[0];
}

async function readSnapshotFile(runtime: Runtime, path: string): Promise<Uint8Array> {
  const bytes = await readFileAtPath(runtime, path);
  if (bytes === undefined) throw new TypeError("no such file");
  return bytes;
}

async function writeFileAtPath(runtime: Runtime, path: string, bytes: Uint8Array): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash === -1 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  const name = path.slice(slash + 1);
  if (name === "" || name === "." || name === "..") {
    throw new TypeError("it names a directory, not a file");
  }
  await (await runtime.files(dir)).replace(name, bytes);
}
