/**
 * Opens a server that talks to other servers: the server RPC on `bind:8300`, cluster formation
 * through the join addresses and the servers LAN gossip discovers, and the Raft server on top, wired so that stopping the server
 * stops the formation rounds and closes the RPC. What `cairn agent -server -data-dir=...`
 * runs; `-dev` runs a `RaftServer` alone, with no RPC.
 *
 * @example
 * ```ts ignore
 * const server = await openClusterServer(runtime, {
 *   id: nodeId,
 *   name: "server-1",
 *   bind: { host: "127.0.0.51", port: 8300 },
 *   advertiseHost: "127.0.0.51",
 *   files: await runtime.files(`${dataDir}/raft`),
 *   bootstrapExpect: 3,
 *   joinAddresses: ["127.0.0.52:8300", "127.0.0.53:8300"],
 * });
 * ```
 *
 * @module
 */

import type { Address, FileStore, Runtime } from "../runtime.ts";
import { ClusterFormation } from "./cluster_formation.ts";
import { RaftServer, type RaftServerConfig, type RaftServerLog } from "./raft_server.ts";
import {
  defaultRpcConfig,
  formatHostPort,
  type RpcConfig,
  type RpcHandler,
  RpcTransport,
} from "./rpc.ts";
import { ServerDirectory } from "./server_directory.ts";

/** Options for {@link openClusterServer}. */
export interface ClusterServerOptions {
  /** The Raft id (the node ID). */
  id: string;
  /** The node name. */
  name: string;
  /** Where the RPC listens. */
  bind: Address;
  /** The host other servers reach this one at (the RPC port is `bind.port`). */
  advertiseHost: string;
  /** The Raft directory (`<data-dir>/raft`). */
  files: FileStore;
  /** Servers (this one included) to find before bootstrapping; 0 joins an existing cluster. */
  bootstrapExpect: number;
  /** "ip:port" RPC addresses of other servers (`-retry-join` when gossip is off). */
  joinAddresses: readonly string[];
  /**
   * "ip:port" RPC addresses of the servers LAN gossip knows now (members tagged `role=consul`),
   * read at every formation round. @default {none}
   */
  discoveredAddresses?: () => readonly string[];
  /** Why bootstrapping must wait now (see `ClusterFormationOptions`). @default {never} */
  bootstrapBlocked?: () => string | undefined;
  /** Extra RPC methods, registered once the Raft server is open (a server's client endpoints). */
  extraRpc?: (server: RaftServer) => Record<string, RpcHandler>;
  /** @default {defaultRaftServerConfig()} */
  config?: RaftServerConfig;
  /** @default {defaultRpcConfig()} */
  rpc?: RpcConfig;
  /** @default {drops every line} */
  log?: RaftServerLog;
}

/**
 * Listens for the RPC, finds the other servers (bootstrapping together when none has state),
 * and opens the Raft server.
 *
 * @param runtime sockets, timers, files
 * @param options identity, addresses, expectations
 * @returns the running server; `stop()` also stops the formation and closes the RPC
 * @throws Error "Cannot listen on ..." when the RPC port is taken
 */
export async function openClusterServer(
  runtime: Runtime,
  options: ClusterServerOptions,
): Promise<RaftServer> {
  const log = options.log ?? { info() {}, warn() {}, error() {} };
  const rpc = await RpcTransport.listen(runtime, options.bind, options.rpc ?? defaultRpcConfig());
  const address = formatHostPort({ host: options.advertiseHost, port: rpc.address.port });
  const directory = new ServerDirectory({ id: options.id, name: options.name, address });
  const formation = new ClusterFormation(runtime, {
    rpc,
    directory,
    options: {
      bootstrapExpect: options.bootstrapExpect,
      joinAddresses: options.joinAddresses,
      discoveredAddresses: options.discoveredAddresses,
      bootstrapBlocked: options.bootstrapBlocked,
      log,
    },
  });
  try {
    const server = await RaftServer.open(runtime, {
      id: options.id,
      name: options.name,
      address,
      files: options.files,
      // Zero expected servers: never bootstrap, wait to be added to a running cluster.
      bootstrap: options.bootstrapExpect === 0 ? false : () => formation.discover(),
      rpc,
      directory,
      config: options.config,
      log,
      onStop: async () => {
        formation.stop();
        await rpc.close();
      },
    });
    formation.attach(server);
    for (const [method, handler] of Object.entries(options.extraRpc?.(server) ?? {})) {
      rpc.handle(method, handler);
    }
    return server;
  } catch (error) {
    formation.stop();
    await rpc.close();
    throw error;
  }
}
