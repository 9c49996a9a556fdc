// Tests of the top level of `cairn` (src/cli/cli.ts) and of `cairn agent`'s lifecycle
// (src/cli/agent_command.ts).
//
// Goal: commands are found and usage errors exit 2 with the list of commands; `cairn version`
// prints the version constant; `cairn agent` starts the agent with the built config, stops it on
// SIGINT or SIGTERM and exits 0, exits 1 at once on a second signal, and ends when the agent
// leaves by itself. Method: runCli in-process on a fake runtime; the agent is a stand-in
// startAgent that records its config and lets the test decide when stop() finishes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../../src/cli/cli.ts";
import type { RunningAgentHandle, StartAgent } from "../../src/cli/agent_command.ts";
import type { AgentConfig } from "../../src/agent/config.ts";
import { CAIRN_VERSION } from "../../src/cli/version.ts";
import { FakeExit, FakeRuntime } from "./fake_runtime.ts";

const commandNames = ["agent", "catalog", "info", "kv", "leave", "members", "services", "version"];

test("runCli() without arguments prints the commands on stderr and exits 2", async () => {
  const runtime = new FakeRuntime();
  assert.equal(await runCli(runtime, []), 2);
  assert.match(runtime.stderr, /^Usage: cairn \[--version\] \[--help\] <command> \[<args>\]\n/);
  for (const name of commandNames) assert.match(runtime.stderr, new RegExp(`\n {4}${name} +\\S`));
  assert.equal(runtime.stdout, "");
});

test("runCli() prints the commands on stdout for --help, -h and help, and exits 0", async () => {
  for (const arg of ["--help", "-h", "help"]) {
    const runtime = new FakeRuntime();
    assert.equal(await runCli(runtime, [arg]), 0);
    assert.match(runtime.stdout, /^Usage: cairn /);
    assert.equal(runtime.stderr, "");
  }
});

test("runCli() exits 2 for an unknown command or subcommand, listing what exists", async () => {
  const unknown = new FakeRuntime();
  assert.equal(await runCli(unknown, ["frobnicate"]), 2);
  assert.match(
    unknown.stderr,
    /^Cannot run "frobnicate": there is no such command\n\nUsage: cairn /,
  );
  const subcommand = new FakeRuntime();
  assert.equal(await runCli(subcommand, ["kv", "frob"]), 2);
  assert.match(
    subcommand.stderr,
    /^Cannot run "kv frob": there is no such command\n\nUsage: cairn kv <subcommand>/,
  );
  for (const name of ["delete", "export", "get", "import", "put"]) {
    assert.match(subcommand.stderr, new RegExp(`\n {4}${name} +\\S`));
  }
  const missing = new FakeRuntime();
  assert.equal(await runCli(missing, ["catalog"]), 2);
  assert.match(missing.stderr, /^Cannot run "catalog": give a subcommand\n/);
  const help = new FakeRuntime();
  assert.equal(await runCli(help, ["services", "-help"]), 0);
  assert.match(help.stdout, /^Usage: cairn services <subcommand>[^]*\n {4}register +\S/);
});

test("cairn version and -v print the version constant and the protocol line", async () => {
  for (const args of [["version"], ["-v"], ["--version"]]) {
    const runtime = new FakeRuntime();
    assert.equal(await runCli(runtime, args), 0);
    assert.equal(
      runtime.stdout,
      `cairn v${CAIRN_VERSION}\nProtocol 2 spoken by default, understands 2 to 3 (agent will ` +
        "automatically use protocol >2 when speaking to compatible agents)\n",
    );
  }
  assert.equal(CAIRN_VERSION, "0.1.0");
});

/** A stand-in for startAgent whose stop() the test resolves. */
class StubAgent implements RunningAgentHandle {
  readonly httpAddress = { host: "127.0.0.1", port: 8500 };
  stopCalls = 0;
  config: AgentConfig | undefined;
  readonly stopped: Promise<void>;
  leave: () => void = () => {};
  #finishStop: () => void = () => {};
  readonly #stopDone: Promise<void>;

  constructor() {
    this.stopped = new Promise((resolve) => {
      this.leave = resolve;
    });
    this.#stopDone = new Promise((resolve) => {
      this.#finishStop = resolve;
    });
  }

  readonly start: StartAgent = (_runtime, config) => {
    this.config = config;
    return Promise.resolve(this);
  };

  stop(): Promise<void> {
    this.stopCalls += 1;
    return this.#stopDone;
  }

  finishStop(): void {
    this.#finishStop();
  }
}

/** Waits until `condition` holds, checking every few milliseconds, for at most 5 s. */
async function until(condition: () => boolean): Promise<void> {
  for (let waitedMs = 0; !condition(); waitedMs += 5) {
    if (waitedMs > 5_000) assert.fail("Cannot wait longer: the condition never held");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  test(`cairn agent starts the agent, stops it on ${signal} and exits 0`, async () => {
    const runtime = new FakeRuntime({ env: { HOSTNAME: "box" } });
    const stub = new StubAgent();
    const exit = runCli(runtime, ["agent", "-dev", "-node=one"], { startAgent: stub.start });
    await until(() => runtime.listenerCount(signal) === 1);
    assert.equal(stub.config?.nodeName, "one");
    assert.equal(stub.config?.dev, true);
    assert.match(runtime.stdout, /^==> Starting cairn agent\.\.\.\n/);
    assert.match(runtime.stdout, /\n {9}Node name: 'one'\n/);
    assert.match(runtime.stdout, /\n==> cairn agent running!\n$/);
    runtime.raise(signal);
    assert.equal(stub.stopCalls, 1);
    stub.finishStop();
    assert.equal(await exit, 0);
    assert.match(runtime.stdout, new RegExp(`==> Caught signal: ${signal}\n`));
    assert.equal(runtime.listenerCount("SIGINT") + runtime.listenerCount("SIGTERM"), 0);
  });
}

test("cairn agent exits 1 at once on a second signal while stopping", async () => {
  const runtime = new FakeRuntime();
  const stub = new StubAgent();
  const exit = runCli(runtime, ["agent", "-dev"], { startAgent: stub.start });
  await until(() => runtime.listenerCount("SIGINT") === 1);
  runtime.raise("SIGINT");
  assert.throws(() => runtime.raise("SIGTERM"), FakeExit);
  assert.equal(runtime.exitCode, 1);
  assert.equal(stub.stopCalls, 1);
  stub.finishStop();
  assert.equal(await exit, 0);
});

test("cairn agent ends with 0 when the agent leaves by itself (cairn leave)", async () => {
  const runtime = new FakeRuntime();
  const stub = new StubAgent();
  const exit = runCli(runtime, ["agent", "-dev"], { startAgent: stub.start });
  await until(() => runtime.listenerCount("SIGINT") === 1);
  stub.leave();
  assert.equal(await exit, 0);
  assert.equal(stub.stopCalls, 0);
  assert.equal(runtime.listenerCount("SIGINT"), 0);
});

test("cairn agent exits 1 with the reason when the config or the start fails", async () => {
  const badConfig = new FakeRuntime();
  let started = false;
  const exitCode = await runCli(badConfig, ["agent", "-server"], {
    startAgent: () => {
      started = true;
      return Promise.reject(new Error("unreachable"));
    },
  });
  assert.equal(exitCode, 1);
  assert.equal(started, false);
  assert.equal(
    badConfig.stderr,
    "Cannot start a server without -data-dir: give -data-dir=<path> or use -dev\n",
  );
  const failing = new FakeRuntime();
  const code = await runCli(failing, ["agent", "-dev"], {
    startAgent: () => Promise.reject(new RangeError("Cannot bind 127.0.0.1:8500: in use")),
  });
  assert.equal(code, 1);
  assert.equal(failing.stderr, "==> Cannot bind 127.0.0.1:8500: in use\n");
});
