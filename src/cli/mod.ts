/**
 * The `cairn` command line, for embedding and tests: {@link runCli} runs it in-process on any
 * {@link Runtime}; {@link buildAgentConfig} turns `cairn agent` arguments into an agent config.
 * The executable's entry point is `main.ts`.
 *
 * @module
 */

export type { Runtime } from "../runtime.ts";
export { type CliOptions, formatCliUsage, listCommands, runCli } from "./cli.ts";
export {
  AGENT_FLAGS,
  buildAgentConfig,
  buildAgentConfigFromFlags,
  type BuildAgentConfigOptions,
  defaultNodeName,
} from "./agent_config.ts";
export {
  type AgentCommandOptions,
  createAgentCommand,
  describeAgentConfig,
  type RunningAgentHandle,
  type StartAgent,
} from "./agent_command.ts";
export {
  type Command,
  type CommandContext,
  createCommandContext,
  errorMessage,
  formatCommandUsage,
  runCommand,
} from "./command.ts";
export {
  FlagError,
  type FlagOccurrence,
  Flags,
  type FlagSpec,
  type FlagSpecs,
  formatFlagHelp,
  parseFlags,
} from "./flags.ts";
export {
  createHttpClient,
  DEFAULT_HTTP_ADDRESS,
  escapePath,
  HTTP_FLAGS,
  HttpClient,
  type HttpClientOptions,
  HttpError,
  type HttpRequestOptions,
  resolveHttpAddress,
} from "./http_client.ts";
export { CAIRN_VERSION, PROTOCOL_VERSION, versionLines } from "./version.ts";
