/**
 * The Serf tags a Consul agent advertises in its LAN member's meta (Consul's
 * `agent/consul/server.go` and `client.go` `setupSerf`), so `serf members` and Consul tooling
 * recognise servers (`role=consul`) and clients (`role=node`).
 *
 * @module
 */

/** What the tags are made from. */
export interface ConsulTagsInput {
  /** Whether the agent is a server. */
  server: boolean;
  /** Datacenter name. */
  datacenter: string;
  /** Node ID (a UUID). */
  nodeId: string;
  /** Server RPC port (servers only). */
  serverPort: number;
  /** Servers expected before bootstrapping; 1 (or dev) is a self-bootstrapped server. */
  bootstrapExpect: number;
  /** Whether the agent runs in dev mode (a bootstrapped server). */
  dev: boolean;
  /** The software version, as `build` shows it. */
  version: string;
  /**
   * Servers: the WAN gossip port, advertised on the LAN as `wan_join_port` so the other servers
   * of the datacenter can flood-join us into the WAN pool (`wan_flood.ts`); none when the WAN
   * pool is off or its port is picked at bind time.
   */
  wanJoinPort?: number;
}

/** Consul's RPC protocol versions: `vsn` spoken, `vsn_min` and `vsn_max` understood. */
export const consulProtocolVersions = { vsn: "2", vsnMin: "2", vsnMax: "3" } as const;

/**
 * Returns Consul's LAN tags for this agent.
 *
 * @example
 * ```ts
 * consulTags({ server: false, datacenter: "dc1", nodeId, serverPort: 8300,
 *   bootstrapExpect: 0, dev: false, version: "0.1.0" }).role; // "node"
 * ```
 */
export function consulTags(input: ConsulTagsInput): Record<string, string> {
  const tags: Record<string, string> = {
    role: input.server ? "consul" : "node",
    dc: input.datacenter,
    id: input.nodeId,
    vsn: consulProtocolVersions.vsn,
    vsn_min: consulProtocolVersions.vsnMin,
    vsn_max: consulProtocolVersions.vsnMax,
    build: `${input.version}:cairn`,
  };
  if (!input.server) {
    tags.segment = "";
    return tags;
  }
  tags.port = String(input.serverPort);
  tags.raft_vsn = "3";
  if (input.wanJoinPort !== undefined) tags.wan_join_port = String(input.wanJoinPort);
  if (input.dev || input.bootstrapExpect === 1) tags.bootstrap = "1";
  else if (input.bootstrapExpect > 1) tags.expect = String(input.bootstrapExpect);
  return tags;
}
