/**
 * A client agent's way to the servers (Consul's `agent/router` and client `RPC`): every call
 * goes over the server RPC (port 8300) to a server picked at random among the alive ones the LAN
 * pool knows ({@link ServerFinder}); when that server cannot be reached the call moves to
 * another (at most {@link routerAttemptsMax} in all). With no server known it fails at once
 * with Consul's "No known Consul servers", never hanging.
 *
 * Only failures that prove the request never reached the server are retried elsewhere (the
 * peer unreachable, the connection closed before sending), so a write is not applied twice;
 * reads may also be retried after a connection dropped mid-call.
 *
 * @module
 */

import type { Runtime } from "../runtime.ts";
import { RpcTransport } from "../server/rpc.ts";
import type { ServerFinder } from "./server_finder.ts";

/** Servers tried for one call. @default {3} */
export const routerAttemptsMax = 3;

/** Consul's text when a client knows no server (`agent/consul/client.go`). */
export const noServersMessage = "No known Consul servers";

/** Thrown when no server is known, or none of those tried could be reached. */
export class NoServersError extends Error {
  override name = "NoServersError";
}

/** Messages of `RpcTransport.call` failures where the request was never sent. */
const notSentPatterns = [
  /the peer is unreachable/,
  /the connection is closed/,
  /RPC is closed/,
  /no such method/, // A server still opening registers its client endpoints last.
  /the server agent is starting/,
];
/** Messages of failures where the connection dropped after sending. */
const droppedPatterns = [/the connection closed/];

/** Calls servers on behalf of a client agent. */
export class ServerRouter {
  readonly #rpc: RpcTransport;
  readonly #finder: ServerFinder;
  #leader = "";
  #lastContactAtMs: number | undefined;
  readonly #runtime: Runtime;

  /**
   * @param runtime sockets, timers and the clock
   * @param finder where the servers are
   */
  constructor(runtime: Runtime, finder: ServerFinder) {
    this.#runtime = runtime;
    this.#finder = finder;
    this.#rpc = RpcTransport.dialer(runtime);
  }

  /** How many alive servers gossip knows now. */
  get knownServers(): number {
    return this.#finder.servers().length;
  }

  /** The leader the last answering server named ("" when none, or no answer yet). */
  get leader(): string {
    return this.#leader;
  }

  /** Milliseconds since a server last answered; `undefined` before the first answer. */
  get sinceLastContactMs(): number | undefined {
    const at = this.#lastContactAtMs;
    return at === undefined ? undefined : this.#runtime.clock.monotonicMs() - at;
  }

  /**
   * Calls `method` on a server.
   *
   * @param options the deadline, and whether the call may run twice (reads)
   * @throws NoServersError when no server is known or none could be reached
   * @throws Error "Cannot call ..." when the server failed the call or the deadline passed
   */
  async call(
    method: string,
    payload: unknown,
    options: { timeoutMs: number; idempotent: boolean },
  ): Promise<unknown> {
    const tried = new Set<string>();
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < routerAttemptsMax; attempt++) {
      const server = this.#finder.pick(tried);
      if (server === undefined) break;
      tried.add(server.rpcAddress);
      try {
        const answer = await this.#rpc.call(server.rpcAddress, method, payload, {
          timeoutMs: options.timeoutMs,
        });
        this.#finder.succeeded(server.rpcAddress);
        this.#lastContactAtMs = this.#runtime.clock.monotonicMs();
        const leader = (answer as { leader?: unknown } | null)?.leader;
        if (typeof leader === "string") this.#leader = leader;
        return answer;
      } catch (error) {
        lastError = error as Error;
        if (!this.#retryable(lastError, options.idempotent)) throw lastError;
        this.#finder.failed(server.rpcAddress);
      }
    }
    if (lastError === undefined) throw new NoServersError(noServersMessage);
    throw new NoServersError(`${noServersMessage} reachable: ${lastError.message}`);
  }

  /** Closes the connections; calls in flight fail. */
  close(): Promise<void> {
    return this.#rpc.close();
  }

  #retryable(error: Error, idempotent: boolean): boolean {
    if (notSentPatterns.some((pattern) => pattern.test(error.message))) return true;
    return idempotent && droppedPatterns.some((pattern) => pattern.test(error.message));
  }
}
