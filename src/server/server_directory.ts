/**
 * Which server is where: Raft ids (node IDs) mapped to node names and RPC addresses ("ip:8300").
 * Raft only knows ids; the RPC only knows addresses. Servers learn each other from `hello` and
 * `join` answers and from the sender of every Raft message, so a restarted server relearns its
 * peers as soon as one of them speaks to it.
 *
 * @module
 */

import type { ServerInfo } from "./_raft_wire.ts";

export type { ServerInfo } from "./_raft_wire.ts";

/** Servers known at once; past it the oldest non-self entry goes. @default {256} */
export const DIRECTORY_SERVERS_MAX = 256;

/** The id ↔ name ↔ address map of the servers this one knows. */
export class ServerDirectory {
  readonly #self: ServerInfo;
  readonly #servers = new Map<string, ServerInfo>();

  /** @param self this server, always known */
  constructor(self: ServerInfo) {
    this.#self = self;
    this.#servers.set(self.id, self);
  }

  /** This server. */
  get self(): ServerInfo {
    return this.#self;
  }

  /**
   * Records (or updates) a server. A server that moved address replaces its old entry, and an
   * address now taken by another id drops the stale id (a server rebuilt with a new data dir).
   *
   * @returns true when something changed
   */
  learn(server: ServerInfo): boolean {
    if (server.id === this.#self.id) return false;
    const known = this.#servers.get(server.id);
    if (known?.address === server.address && known.name === server.name) return false;
    for (const [id, other] of this.#servers) {
      if (id !== server.id && id !== this.#self.id && other.address === server.address) {
        this.#servers.delete(id);
      }
    }
    if (known === undefined && this.#servers.size >= DIRECTORY_SERVERS_MAX) {
      for (const id of this.#servers.keys()) {
        if (id === this.#self.id) continue;
        this.#servers.delete(id);
        break;
      }
    }
    this.#servers.set(server.id, server);
    return true;
  }

  /** The server with `id`, if known. */
  get(id: string): ServerInfo | undefined {
    return this.#servers.get(id);
  }

  /** The server at `address`, if known. */
  byAddress(address: string): ServerInfo | undefined {
    for (const server of this.#servers.values()) if (server.address === address) return server;
    return undefined;
  }

  /** Every known server, this one included, by id. */
  list(): ServerInfo[] {
    return [...this.#servers.values()].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }
}
