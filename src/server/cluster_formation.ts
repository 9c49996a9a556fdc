/**
 * Cluster formation over the server RPC. Servers learn each other's RPC addresses from LAN
 * gossip (members tagged `role=consul`, address plus tag `port`, as Consul's `lanNodeJoin`) and,
 * when gossip is off, from their join addresses (`-retry-join` on the RPC port); to each they
 * say `hello`, a call that exchanges node name, id, RPC address, whether the sender holds Raft
 * state, and every server it knows.
 *
 * - **Bootstrap.** A server without Raft state waits until it knows `bootstrapExpect` servers
 *   (itself included), none of them with state; then each of them bootstraps with the same
 *   voters, the ids sorted (deterministic, so they agree without a further round). If a peer
 *   already has state, a cluster exists: the server does not bootstrap, it asks to join.
 * - **Join.** A server outside the configuration sends `join` to a join address; a follower
 *   passes it to its leader (one hop), and the leader adds the server as a non-voter; the
 *   leader promotes it once it has caught up (`RaftServer`).
 * - **Restart.** A server with state never bootstraps again; its hellos teach it where its
 *   peers are, so it can campaign and answer at once.
 *
 * @module
 */

import type { ServerId } from "../core/raft/messages.ts";
import type { Runtime, TimerHandle } from "../runtime.ts";
import { decodeServerInfo, type ServerInfo } from "./_raft_wire.ts";
import type { RaftServer, RaftServerLog } from "./raft_server.ts";
import type { RpcTransport } from "./rpc.ts";
import type { ServerDirectory } from "./server_directory.ts";

/** Options for {@link ClusterFormation}. */
export interface ClusterFormationOptions {
  /** Servers (this one included) to find before bootstrapping; 1 bootstraps alone. */
  bootstrapExpect: number;
  /** "ip:port" RPC addresses to say hello to (`-retry-join` with the server port). */
  joinAddresses: readonly string[];
  /**
   * "ip:port" RPC addresses of the servers gossip knows now, read at every round; with
   * `bootstrapExpect`, the servers counted are those seen here (and through join addresses)
   * that answered a hello. @default {none}
   */
  discoveredAddresses?: () => readonly string[];
  /**
   * Why bootstrapping must wait now, or `undefined` when it may go ahead: Consul refuses while a
   * server gossip knows expects a different number of servers. Read before every bootstrap
   * decision; each new reason is logged once as an error. @default {never blocked}
   */
  bootstrapBlocked?: () => string | undefined;
  /** Time between rounds of hellos while forming or joining. @default {250} */
  retryIntervalMs?: number;
  /** Time between rounds once this server is in the configuration. @default {5_000} */
  settledIntervalMs?: number;
  /** Deadline of one hello or join call. @default {1_000} */
  callTimeoutMs?: number;
  log: RaftServerLog;
}

interface Hello {
  server: ServerInfo;
  hasState: boolean;
  servers: ServerInfo[];
  /** The voters the sender bootstrapped with, if it did in this run. */
  bootstrapVoters?: string[];
  /** The sender is leaving the cluster: never add it back. */
  leaving?: boolean;
}

/** Peer states remembered at once. */
const PEER_STATES_MAX = 256;

/** Finds the other servers, decides the bootstrap, and keeps the directory current. */
export class ClusterFormation {
  readonly #runtime: Runtime;
  readonly #rpc: RpcTransport;
  readonly #directory: ServerDirectory;
  readonly #options: Required<ClusterFormationOptions>;
  /** What each peer said about holding Raft state. */
  readonly #peerHasState = new Map<ServerId, boolean>();
  /** Voters a peer bootstrapped with that include this server: bootstrap with the same. */
  #peerBootstrap: ServerId[] | undefined;
  #bootstrapVoters: ServerId[] | undefined;
  #phase: "opening" | "discovering" | "running" | "stopped" = "opening";
  #server: RaftServer | undefined;
  #timer: TimerHandle | undefined;
  #sleeper: (() => void) | undefined;
  #warnedTooMany = false;
  /** The last reason bootstrapping had to wait, so each is logged once. */
  #blockedReason: string | undefined;

  /**
   * Registers the `hello` and `join` handlers on `rpc`.
   *
   * @param runtime timers
   * @param parts the RPC, the directory shared with the Raft server, and the options
   */
  constructor(
    runtime: Runtime,
    parts: { rpc: RpcTransport; directory: ServerDirectory; options: ClusterFormationOptions },
  ) {
    this.#runtime = runtime;
    this.#rpc = parts.rpc;
    this.#directory = parts.directory;
    this.#options = {
      retryIntervalMs: 250,
      settledIntervalMs: 5_000,
      callTimeoutMs: 1_000,
      ...parts.options,
      // An explicit `undefined` (no gossip pool) must not override the default.
      discoveredAddresses: parts.options.discoveredAddresses ?? (() => []),
      bootstrapBlocked: parts.options.bootstrapBlocked ?? (() => undefined),
    };
    this.#rpc.handle("hello", (payload) => this.#answerHello(payload));
    this.#rpc.handle("join", (payload) => this.#answerJoin(payload));
  }

  /**
   * Called by `RaftServer.open` only when there is no Raft state: says hello until the
   * expected servers are known, and resolves with the voters to bootstrap with, or
   * `undefined` when a cluster already exists (this server then asks to join).
   */
  async discover(): Promise<readonly ServerId[] | undefined> {
    this.#phase = "discovering";
    while (this.#phase === "discovering") {
      await this.#helloAll();
      if (this.#peerBootstrap !== undefined) {
        // A peer that saw the same servers already bootstrapped: its voters include this one.
        this.#bootstrapVoters = this.#peerBootstrap;
        return this.#bootstrapVoters;
      }
      if ([...this.#peerHasState.values()].some((hasState) => hasState)) {
        this.#options.log.info("Found a server with Raft state: joining its cluster");
        return undefined;
      }
      const known = this.#directory.list().filter((server) =>
        server.id === this.#directory.self.id || this.#peerHasState.has(server.id)
      );
      const blocked = this.#options.bootstrapBlocked();
      if (blocked !== undefined && blocked !== this.#blockedReason) {
        this.#options.log.error(`Cannot bootstrap yet: ${blocked}`);
      }
      this.#blockedReason = blocked;
      if (blocked === undefined && known.length === this.#options.bootstrapExpect) {
        this.#bootstrapVoters = known.map((server) => server.id).sort();
        return this.#bootstrapVoters;
      }
      if (known.length > this.#options.bootstrapExpect && !this.#warnedTooMany) {
        this.#warnedTooMany = true;
        this.#options.log.error(
          `Cannot bootstrap: ${known.length} servers without state answered, more than ` +
            `-bootstrap-expect=${this.#options.bootstrapExpect}; fix -bootstrap-expect`,
        );
      }
      await this.#sleep(this.#options.retryIntervalMs);
    }
    return undefined;
  }

  /** Starts keeping in touch on behalf of the opened server (and joining, if outside). */
  attach(server: RaftServer): void {
    this.#server = server;
    if (this.#phase === "stopped") return;
    this.#phase = "running";
    this.#schedule(0);
  }

  /** Stops the rounds; handlers answer "stopped" from now on. */
  stop(): void {
    this.#phase = "stopped";
    this.#timer?.cancel();
    this.#sleeper?.();
  }

  #schedule(delayMs: number): void {
    if (this.#phase !== "running") return;
    this.#timer = this.#runtime.timers.after(delayMs, () => void this.#round());
  }

  async #round(): Promise<void> {
    const server = this.#server;
    if (this.#phase !== "running" || server === undefined) return;
    await this.#helloAll();
    const self = this.#directory.self.id;
    const { voters, nonVoters } = server.membership;
    const member = voters.includes(self) || nonVoters.includes(self);
    // A server leaving the cluster is removed on purpose: it must not ask back in.
    if (!member && !server.leaving) await this.#askToJoin();
    const settled = member && voters.every((id) => this.#directory.get(id) !== undefined);
    this.#schedule(settled ? this.#options.settledIntervalMs : this.#options.retryIntervalMs);
  }

  #hello(): Hello {
    return {
      server: this.#directory.self,
      hasState: this.#phase === "running",
      servers: this.#directory.list(),
      ...(this.#bootstrapVoters === undefined ? {} : { bootstrapVoters: this.#bootstrapVoters }),
      ...(this.#server?.leaving === true ? { leaving: true } : {}),
    };
  }

  async #helloAll(): Promise<void> {
    const hello = this.#hello();
    await Promise.all(
      this.#addresses().map(async (address) => {
        if (address === this.#directory.self.address) return;
        try {
          const answer = await this.#rpc.call(address, "hello", hello, {
            timeoutMs: this.#options.callTimeoutMs,
          });
          this.#learn(answer);
        } catch {
          // Not up yet, or starting: the next round retries (-retry-join).
        }
      }),
    );
  }

  /** Join addresses, then the servers gossip knows (bounded, without repeats). */
  #addresses(): string[] {
    const discovered = this.#options.discoveredAddresses().slice(0, PEER_STATES_MAX);
    return [...new Set([...this.#options.joinAddresses, ...discovered])];
  }

  #learn(value: unknown): void {
    const fields = value as Partial<Record<keyof Hello, unknown>> | null;
    const server = decodeServerInfo(fields?.server);
    if (server === undefined || typeof fields?.hasState !== "boolean") return;
    this.#directory.learn(server);
    if (this.#peerHasState.size < PEER_STATES_MAX || this.#peerHasState.has(server.id)) {
      this.#peerHasState.set(server.id, fields.hasState);
    }
    const voters = fields.bootstrapVoters;
    if (
      Array.isArray(voters) && voters.length <= PEER_STATES_MAX &&
      voters.every((id) => typeof id === "string") && voters.includes(this.#directory.self.id)
    ) {
      this.#peerBootstrap ??= voters as string[];
    }
    if (!Array.isArray(fields.servers)) return;
    for (const item of fields.servers.slice(0, PEER_STATES_MAX)) {
      const other = decodeServerInfo(item);
      if (other !== undefined) this.#directory.learn(other);
    }
  }

  #answerHello(payload: unknown): Hello {
    if (this.#phase === "opening" || this.#phase === "stopped") {
      throw new Error(`Cannot answer hello: the server is ${this.#phase}`);
    }
    this.#learn(payload);
    this.#readmit(payload);
    return this.#hello();
  }

  /**
   * The leader adds back a running server with Raft state that is outside the configuration
   * (removed while it was down, then restarted), as Consul's leader reconciles a live server
   * member that Raft lacks: it sees itself as a member in its old log, so it never asks to join.
   */
  #readmit(payload: unknown): void {
    const server = this.#server;
    const fields = payload as { hasState?: unknown; leaving?: unknown } | null;
    const sender = decodeServerInfo((payload as { server?: unknown } | null)?.server);
    if (server === undefined || !server.isLeader || server.leaving || sender === undefined) return;
    if (fields?.hasState !== true || fields.leaving === true) return;
    const { voters, nonVoters } = server.membership;
    if (voters.includes(sender.id) || nonVoters.includes(sender.id)) return;
    void server.changeMembership({ type: "addNonVoter", id: sender.id }).then((result) => {
      if (result.ok) {
        this.#options.log.info(
          `Added "${sender.name}" (${sender.address}) as a non-voter: it runs outside the ` +
            "configuration",
        );
      }
    });
  }

  async #askToJoin(): Promise<void> {
    const request = { server: this.#directory.self, forwarded: false };
    for (const address of this.#addresses()) {
      if (address === this.#directory.self.address) continue;
      try {
        await this.#rpc.call(address, "join", request, { timeoutMs: this.#options.callTimeoutMs });
        return;
      } catch {
        // Try the next address; the next round retries all.
      }
    }
  }

  async #answerJoin(payload: unknown): Promise<boolean> {
    const fields = payload as { server?: unknown; forwarded?: unknown } | null;
    const joiner = decodeServerInfo(fields?.server);
    const server = this.#server;
    if (joiner === undefined) throw new Error("Cannot join: the request names no server");
    if (server === undefined || this.#phase !== "running") {
      throw new Error("Cannot join: this server is not running yet");
    }
    this.#directory.learn(joiner);
    if (!server.isLeader) {
      const leader = server.leaderAddress();
      if (fields?.forwarded === true || leader === "") {
        throw new Error("Cannot join: no cluster leader");
      }
      const forwarded = { server: joiner, forwarded: true };
      await this.#rpc.call(leader, "join", forwarded, { timeoutMs: this.#options.callTimeoutMs });
      return true;
    }
    const { voters, nonVoters } = server.membership;
    if (voters.includes(joiner.id) || nonVoters.includes(joiner.id)) return true;
    const result = await server.changeMembership({ type: "addNonVoter", id: joiner.id });
    if (!result.ok) throw new Error(result.error);
    this.#options.log.info(`Added "${joiner.name}" (${joiner.address}) as a non-voter`);
    return true;
  }

  #sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.#runtime.timers.after(delayMs, () => {
        this.#sleeper = undefined;
        resolve();
      }, { keepAlive: true });
      this.#sleeper = () => {
        timer.cancel();
        this.#sleeper = undefined;
        resolve();
      };
    });
  }
}
