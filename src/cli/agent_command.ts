/**
 * `cairn agent`: builds the config, starts the agent, and stops it on SIGINT or SIGTERM (a second
 * signal exits at once), printing Consul's start-up banner on the way.
 *
 * @module
 */

import type { AgentConfig } from "../agent/config.ts";
import type { Address, Runtime } from "../runtime.ts";
import { AGENT_FLAGS, buildAgentConfigFromFlags } from "./agent_config.ts";
import type { Command, CommandContext } from "./command.ts";
import type { Flags } from "./flags.ts";
import { CAIRN_VERSION } from "./version.ts";

/** What a started agent offers the CLI (the shape of `RunningAgent` in `src/agent/agent.ts`). */
export interface RunningAgentHandle {
  /** Leaves gracefully and closes every listener. */
  stop(): Promise<void>;
  /** Where the HTTP API listens, or `undefined` when it is disabled. */
  readonly httpAddress: Address | undefined;
  /** Resolves when the agent has stopped by itself (e.g. after `PUT /v1/agent/leave`). */
  readonly stopped?: Promise<void>;
  /** Set when it stopped by itself on an error: the command then exits 1. */
  readonly failure?: string;
}

/** Starts an agent: `startAgent` from `src/agent/agent.ts`, or a stand-in in tests. */
export type StartAgent = (runtime: Runtime, config: AgentConfig) => Promise<RunningAgentHandle>;

/** Options of {@link createAgentCommand}. */
export interface AgentCommandOptions {
  /** @default {startAgent from src/agent/agent.ts, loaded only when the command runs} */
  startAgent?: StartAgent;
}

// The time between wake-ups of the timer that keeps the process alive while the agent runs, in
// case every socket of the agent is unref'd.
const keepAliveIntervalMs = 3_600_000;

/**
 * Makes the `agent` command.
 *
 * @param options a stand-in `startAgent` for tests
 * @returns the command
 */
export function createAgentCommand(options: AgentCommandOptions = {}): Command {
  return {
    name: "agent",
    synopsis: "Runs a cairn agent",
    arguments: "[options]",
    description: "Starts the cairn agent and runs until an interrupt is received (SIGINT or " +
      "SIGTERM stop it gracefully; a second signal exits at once). The agent may be a client " +
      "or a server.\n\nSettings apply in this order, later ones winning: the defaults (or the " +
      "-dev preset), then -config-file and -config-dir in the order given, then the other flags.",
    flags: AGENT_FLAGS,
    http: false,
    run: (context, flags) => runAgent(context, flags, options),
  };
}

async function runAgent(
  context: CommandContext,
  flags: Flags,
  options: AgentCommandOptions,
): Promise<number> {
  const { runtime } = context;
  const config = await buildAgentConfigFromFlags(runtime, flags, {
    onWarning: (message) => context.err(`==> Warning: ${message}`),
  });
  const startAgent = options.startAgent ?? await loadStartAgent();
  context.out("==> Starting cairn agent...");
  for (const line of describeAgentConfig(config)) context.out(line);
  let agent: RunningAgentHandle;
  try {
    agent = await startAgent(runtime, config);
  } catch (error) {
    context.err(`==> ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  context.out("");
  context.out("==> cairn agent running!");
  return await waitForSignal(context, agent);
}

async function loadStartAgent(): Promise<StartAgent> {
  // Loaded here rather than at the top so that client commands (`cairn kv get`) do not load the
  // whole agent.
  const module = await import("../agent/agent.ts");
  return module.startAgent;
}

function waitForSignal(context: CommandContext, agent: RunningAgentHandle): Promise<number> {
  const { runtime } = context;
  return new Promise((resolve) => {
    let stopping = false;
    const keepAlive = runtime.timers.every(keepAliveIntervalMs, () => {}, { keepAlive: true });
    const removers: Array<() => void> = [];
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      keepAlive.cancel();
      for (const remove of removers) remove();
      resolve(code);
    };
    const onSignal = (signal: string) => {
      if (stopping) {
        context.err(`==> Caught second signal ${signal}: exiting now`);
        runtime.exit(1);
      }
      stopping = true;
      context.out(`==> Caught signal: ${signal}`);
      context.out("==> Gracefully shutting down agent...");
      agent.stop().then(
        () => finish(0),
        (error: unknown) => {
          context.err(
            `==> Cannot stop the agent cleanly: ${error instanceof Error ? error.message : error}`,
          );
          finish(1);
        },
      );
    };
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      removers.push(runtime.onSignal(signal, () => onSignal(signal)));
    }
    // `cairn leave` stops the agent over HTTP; the command then ends as after a signal.
    agent.stopped?.then(() => {
      if (stopping) return;
      stopping = true;
      if (agent.failure !== undefined) {
        context.err(`==> Agent stopped: ${agent.failure}`);
        finish(1);
        return;
      }
      context.out("==> Agent left: shutting down");
      finish(0);
    }, () => finish(1));
  });
}

/**
 * The start-up summary Consul prints (`==> Starting Consul agent...` and the aligned lines).
 *
 * @param config the config the agent starts with
 * @returns the lines, right-aligned labels as Consul's
 */
export function describeAgentConfig(config: AgentConfig): string[] {
  const ports = config.ports;
  const rows: Array<[string, string]> = [
    ["Version", `'${CAIRN_VERSION}'`],
    ["Node ID", `'${config.nodeId ?? "(generated)"}'`],
    ["Node name", `'${config.nodeName}'`],
    ["Datacenter", `'${config.datacenter}'`],
    ["Server", `${config.server} (Bootstrap: ${config.dev || config.bootstrapExpect === 1})`],
    ["Client Addr", `[${config.clientAddr}] (HTTP: ${ports.http}, DNS: ${ports.dns})`],
    [
      "Cluster Addr",
      `${config.advertiseAddr ?? config.bindAddr} (LAN: ${ports.serfLan}, WAN: ${ports.serfWan})`,
    ],
    ["Gossip Encryption", `${config.encrypt !== undefined}`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padStart(width + 1)}: ${value}`);
}
