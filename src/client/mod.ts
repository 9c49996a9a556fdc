/**
 * The typed client of an agent: {@link CairnClient} and its two homes, an agent embedded in this
 * process ({@link createEmbeddedAgent}) and a remote agent over HTTP ({@link connectRemote}).
 * `mod.ts` at the repository root picks the runtime and exports them as `createAgent()` and
 * `connect()`.
 *
 * @example
 * ```ts ignore
 * import { createAgent } from "../../mod.ts";
 *
 * const agent = await createAgent();
 * await agent.kv.put("greeting", "hello");
 * console.log((await agent.kv.get("greeting"))?.value); // hello
 * await agent.stop();
 * ```
 *
 * @module
 */

export * from "./cairn_client.ts";
export {
  type CreateAgentOptions,
  createAgentOptionsSchema,
  createEmbeddedAgent,
  type EmbeddedAgent,
  parseCreateAgentOptions,
  type ResolvedAgentOptions,
} from "./embedded_agent.ts";
export { type ClientTransport, createFetchClient } from "./fetch_client.ts";
export {
  type ConnectOptions,
  connectOptionsSchema,
  connectRemote,
  type RemoteClient,
} from "./remote_client.ts";
