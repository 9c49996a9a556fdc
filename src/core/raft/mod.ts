/**
 * The Raft consensus core: a synchronous, deterministic state machine per server (etcd-io/raft
 * shape). The shell drives it with `tick()`, `step()`, `propose()`, `readIndex()`, and carries
 * out each `ready()` under the contract in `ready.ts` before calling `advance()`.
 *
 * @example
 * ```ts
 * import { Raft } from "./mod.ts";
 * import { SeededRandom } from "../random.ts";
 *
 * const raft = new Raft({ id: "a", random: new SeededRandom(1), bootstrapVoters: ["a"] });
 * while (raft.role !== "leader") raft.tick();
 * raft.propose(new TextEncoder().encode("hello"));
 * const ready = raft.ready(); // 1. persist  2. send  3. apply
 * raft.advance();
 * ```
 *
 * @module
 */

export * from "./config.ts";
export * from "./messages.ts";
export * from "./quorum.ts";
export * from "./progress.ts";
export * from "./raft_log.ts";
export * from "./ready.ts";
export * from "./raft.ts";
