/**
 * The {@link ServerApi} of a client agent: it holds no state store; data requests go to a server
 * over the server RPC through a {@link ServerRouter}:
 *
 * - HTTP data endpoints (`src/http/forwarding.ts`) are shipped whole as `clientHttp` and
 *   answered by the server's own HTTP API, so `?stale`, `?consistent`, blocking queries and the
 *   `X-Consul-Index`, `X-Consul-KnownLeader` and `X-Consul-LastContact` headers are the server's;
 * - anti-entropy and coordinate updates propose catalog writes with `clientPropose` (Consul's
 *   `Catalog.Register`, `Catalog.Deregister`, `Coordinate.Update`) and read this node's catalog
 *   entry with `clientNode`.
 *
 * The routes that still run on a client are agent-local (`/v1/agent/*`, events): they read no
 * replicated state, so `readBarrier` has nothing to wait for. Reaching for the state store on a
 * client is a programming error and throws.
 *
 * @module
 */

import type { ApplyResult } from "../core/state/commands.ts";
import type { StateStore } from "../core/state/state_store.ts";
import type { CheckRecord, NodeRecord, ServiceRecord } from "../core/state/types.ts";
import type { ServerApi } from "../http/api_backend.ts";
import {
  decodeForwardedResponse,
  forwardedTimeoutMs,
  fromForwardedResponse,
  toForwardedRequest,
} from "../http/forwarding.ts";
import type { Proposal } from "../server/proposal.ts";
import type { NodeCatalog } from "./anti_entropy.ts";
import type { ServerRouter } from "./server_router.ts";

/** Deadline of a forwarded write or node read (Consul's RPC hold timeout is 7 s, plus room). */
export const clientCallTimeoutMs = 30_000;

/** Proposals a client may send (what Consul's client agents may write through RPC). */
export const clientProposalTypes: ReadonlySet<string> = new Set([
  "register",
  "deregister",
  "coordinateBatchUpdate",
]);

/** A client agent's server side: everything through the servers. */
export class ForwardingServerApi implements ServerApi, NodeCatalog {
  readonly #router: ServerRouter;

  /** @param router the way to the servers */
  constructor(router: ServerRouter) {
    this.#router = router;
  }

  get store(): StateStore {
    throw new Error(
      "Cannot read the state store on a client agent: the catalog lives on the servers; " +
        "forward the request (src/http/forwarding.ts)",
    );
  }

  /** Proposes a catalog write through a server; failures are results, never throws. */
  async propose(proposal: Proposal): Promise<ApplyResult> {
    if (!clientProposalTypes.has(proposal.type)) {
      return {
        ok: false,
        error: `Cannot propose "${proposal.type}" from a client agent: forward the request`,
        status: 500,
      };
    }
    let answer: unknown;
    try {
      answer = await this.#router.call("clientPropose", proposal, {
        timeoutMs: clientCallTimeoutMs,
        idempotent: false,
      });
    } catch (error) {
      return { ok: false, error: (error as Error).message, status: 500 };
    }
    const result = answer as ApplyResult | null;
    if (typeof result?.ok !== "boolean") {
      return { ok: false, error: "Cannot propose: a server answered malformed", status: 500 };
    }
    return result;
  }

  /** This node's catalog entry, as a server reads it (default consistency). */
  async readNode(node: string): Promise<{
    node: NodeRecord | undefined;
    services: ServiceRecord[];
    checks: CheckRecord[];
  }> {
    const answer = await this.#router.call("clientNode", { node }, {
      timeoutMs: clientCallTimeoutMs,
      idempotent: true,
    }) as { node?: unknown; services?: unknown; checks?: unknown } | null;
    if (!Array.isArray(answer?.services) || !Array.isArray(answer.checks)) {
      throw new Error(`Cannot read node "${node}": a server answered malformed`);
    }
    const record = answer.node === null || answer.node === undefined
      ? undefined
      : answer.node as NodeRecord;
    return {
      node: record,
      services: answer.services as ServiceRecord[],
      checks: answer.checks as CheckRecord[],
    };
  }

  /**
   * Answers an HTTP data request through a server. Consul's 500 "No known Consul servers" when
   * none is known or reachable, at once.
   *
   * @throws HttpError 413 when the body is too large to forward
   */
  async forward(request: Request): Promise<Response> {
    const forwarded = await toForwardedRequest(request);
    let answer: unknown;
    try {
      answer = await this.#router.call("clientHttp", forwarded, {
        timeoutMs: forwardedTimeoutMs(forwarded),
        idempotent: forwarded.method === "GET",
      });
    } catch (error) {
      return plainText(500, (error as Error).message.split("\n")[0]);
    }
    const decoded = decodeForwardedResponse(answer);
    if (decoded === undefined) return plainText(500, "Cannot forward: a server answered malformed");
    return fromForwardedResponse(decoded);
  }

  renewSession(_id: string): boolean {
    throw new Error("Cannot renew a session on a client agent: forward the request");
  }

  /** Agent-local reads (the only ones a client serves itself) have no Raft state to wait for. */
  readBarrier(): Promise<ApplyResult | undefined> {
    return Promise.resolve(undefined);
  }

  leaseValid(): boolean {
    return false;
  }

  /** The leader the last answering server named. */
  leaderAddress(): string {
    return this.#router.leader;
  }

  peers(): string[] {
    throw new Error("Cannot list Raft peers on a client agent: forward the request");
  }

  /** Milliseconds since a server last answered this client. */
  lastContactMs(): number | undefined {
    return this.#router.sinceLastContactMs;
  }
}

function plainText(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8" },
  });
}
