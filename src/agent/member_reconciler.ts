/**
 * The leader's reconciliation of LAN members into the catalog (Consul's `agent/consul/leader.go`
 * `reconcileMember`): a member that gossip declares failed gets its `serfHealth` check critical,
 * so its services stop answering DNS and health queries; one that comes back alive gets it
 * passing again; one that left gracefully is deregistered with its services and checks.
 *
 * Only members that are Consul agents of our datacenter count (tags `role=consul` or
 * `role=node`, `dc`); plain Serf agents are ignored, as Consul ignores them. Alive members that
 * the catalog lacks are left to register themselves (every cairn agent does at start), and
 * catalog nodes whose member gossip has forgotten entirely (Consul's `reconcileReaped`) are kept:
 * a leader that has just restarted may not know every member yet.
 *
 * {@link planMemberReconcile} decides (pure); {@link MemberReconciler} runs it on the leader
 * every few seconds and proposes what it returns.
 *
 * @module
 */

import type { CheckInput } from "../core/state/commands.ts";
import type { HealthStatus } from "../core/state/types.ts";
import type { Runtime, TimerHandle } from "../runtime.ts";
import type { Proposal } from "../server/proposal.ts";
import type { GossipMember } from "./server_finder.ts";

/** Proposals made in one round at most; the rest wait for the next round. @default {64} */
export const reconcileProposalsMax = 64;

/** Consul's check ID and name for gossip health. */
export const serfHealthCheckId = "serfHealth";

/** What the planner needs to know of the catalog: a node's serfHealth status, if any. */
export interface CatalogView {
  /** `undefined` when the node is not in the catalog; else its serfHealth status, if it has one. */
  serfHealth(node: string): { status: HealthStatus | undefined } | undefined;
}

/** The serfHealth check with a status, as Consul's leader writes it. */
export function serfHealthCheck(status: HealthStatus): CheckInput {
  return {
    checkId: serfHealthCheckId,
    name: "Serf Health Status",
    status,
    notes: "",
    output: status === "passing" ? "Agent alive and reachable" : "Agent not live or unreachable",
    serviceId: "",
    type: "",
    intervalMs: 0,
    timeoutMs: 0,
    definition: {},
  };
}

/**
 * The writes that bring the catalog in line with gossip.
 *
 * @param members the LAN pool's members
 * @param catalog the catalog as the leader reads it
 * @param options our datacenter and node name (never deregistered by us)
 */
export function planMemberReconcile(
  members: readonly GossipMember[],
  catalog: CatalogView,
  options: { datacenter: string; selfName: string },
): Proposal[] {
  const proposals: Proposal[] = [];
  for (const member of members) {
    if (proposals.length >= reconcileProposalsMax) break;
    const role = member.tags.role;
    if ((role !== "consul" && role !== "node") || member.tags.dc !== options.datacenter) continue;
    const known = catalog.serfHealth(member.name);
    if (known === undefined) continue;
    const proposal = memberProposal(member, known.status, options.selfName);
    if (proposal !== undefined) proposals.push(proposal);
  }
  return proposals;
}

function memberProposal(
  member: GossipMember,
  status: HealthStatus | undefined,
  selfName: string,
): Proposal | undefined {
  // Consul's status codes: 1 alive, 2 leaving, 3 left, 4 failed.
  const wanted: HealthStatus | undefined = member.status === 1
    ? "passing"
    : member.status === 4
    ? "critical"
    : undefined;
  if (member.status === 3 && member.name !== selfName) {
    return { type: "deregister", node: member.name, serviceId: "", checkId: "" };
  }
  if (wanted === undefined || wanted === status) return undefined;
  return {
    type: "register",
    node: {
      id: member.tags.id ?? "",
      node: member.name,
      address: member.addr,
      datacenter: member.tags.dc ?? "",
      taggedAddresses: {},
      meta: {},
    },
    skipNodeUpdate: true,
    service: undefined,
    checks: [serfHealthCheck(wanted)],
  };
}

/** What a {@link MemberReconciler} drives. */
export interface MemberReconcilerParts {
  members: () => readonly GossipMember[];
  catalog: CatalogView;
  /** True while this server leads. */
  isLeader: () => boolean;
  propose: (proposal: Proposal) => Promise<{ ok: boolean; error?: string }>;
  warn: (message: string) => void;
  datacenter: string;
  selfName: string;
}

/** Runs the reconciliation on the leader every `intervalMs`. */
export class MemberReconciler {
  readonly #runtime: Runtime;
  readonly #parts: MemberReconcilerParts;
  #timer: TimerHandle | undefined;
  #running = false;

  constructor(runtime: Runtime, parts: MemberReconcilerParts) {
    this.#runtime = runtime;
    this.#parts = parts;
  }

  /** Starts the rounds. @param intervalMs between rounds */
  start(intervalMs = 5_000): void {
    this.#timer = this.#runtime.timers.every(intervalMs, () => void this.reconcile());
  }

  stop(): void {
    this.#timer?.cancel();
  }

  /** One round: plans on the leader, proposes one write at a time; a round never overlaps. */
  async reconcile(): Promise<void> {
    if (this.#running || !this.#parts.isLeader()) return;
    this.#running = true;
    try {
      const parts = this.#parts;
      const proposals = planMemberReconcile(parts.members(), parts.catalog, parts);
      for (const proposal of proposals) {
        const result = await parts.propose(proposal);
        if (!result.ok) {
          parts.warn(`Cannot reconcile gossip members into the catalog: ${result.error}`);
          return;
        }
      }
    } finally {
      this.#running = false;
    }
  }
}
