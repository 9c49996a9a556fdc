/**
 * A server's node ID lives in `<data-dir>/node-id`, as Consul keeps it, so that a restarted
 * server is the same Raft voter: the ID is generated once and read back on every start.
 *
 * @module
 */

import type { FileStore } from "../runtime.ts";

/** The file holding the node ID, in the data dir. */
export const NODE_ID_FILE = "node-id";

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Returns the node ID stored in `files`, storing one first when there is none: `configured`
 * when given, else `generate()`.
 *
 * @param files the data dir
 * @param options a configured ID (`-node-id`), and how to make a new one
 * @returns the node ID in force
 * @throws Error when the stored ID is damaged or differs from the configured one
 */
export async function loadNodeId(
  files: FileStore,
  options: { configured: string | undefined; generate: () => string },
): Promise<string> {
  const bytes = await files.read(NODE_ID_FILE);
  if (bytes !== undefined) {
    const stored = new TextDecoder().decode(bytes).trim().toLowerCase();
    if (!UUID_PATTERN.test(stored)) {
      throw new Error(
        `Cannot read the node ID in ${files.dir}/${NODE_ID_FILE}: "${stored}" is not a UUID; ` +
          "fix or remove the file",
      );
    }
    if (options.configured !== undefined && options.configured !== stored) {
      throw new Error(
        `Cannot use -node-id "${options.configured}": the data dir ${files.dir} belongs to ` +
          `node "${stored}"; drop -node-id or use another data dir`,
      );
    }
    return stored;
  }
  const id = options.configured ?? options.generate();
  await files.replace(NODE_ID_FILE, new TextEncoder().encode(id));
  return id;
}
