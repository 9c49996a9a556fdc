// Goal: an agent whose -retry-join finds no one gives up after -retry-max attempts, -retry-interval
// apart at most, and exits 1 with the reason, as Consul's agent exits when "max join retry
// exhausted"; without -retry-max it keeps trying and stays up.
// Method: real `cairn agent` client processes on 127.0.20.21-22 joining 127.0.20.29, where nothing
// listens; waits are bounded.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runtimeCommand } from "../_support/agent_process.ts";

const root = mkdtempSync(join(tmpdir(), "cairn-retry-max-"));
after(() => rmSync(root, { recursive: true, force: true }));
const cliMain = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

function agentArgs(host: string, extra: string[]): string[] {
  return [
    "agent",
    `-data-dir=${join(root, host)}`,
    `-node=${host}`,
    `-bind=${host}`,
    `-client=${host}`,
    "-http-port=0",
    "-dns-port=0",
    "-retry-join=127.0.20.29",
    "-retry-interval=200ms",
    ...extra,
  ];
}

test("-retry-max=3: the agent exits 1 once three joins failed", async () => {
  const [command, args] = runtimeCommand(cliMain, agentArgs("127.0.20.21", ["-retry-max=3"]));
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk) => output += chunk);
  child.stderr.on("data", (chunk) => output += chunk);
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("exit", (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  assert.equal(code, 1, output);
  assert.match(output, /join failed \(attempt 2\).*retrying in 200 ms/);
  assert.match(output, /Agent stopped: LAN join failed 3 times \(retry_max\)/);
});

test("without -retry-max the agent keeps retrying and stays up", async () => {
  const [command, args] = runtimeCommand(cliMain, agentArgs("127.0.20.22", []));
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk) => output += chunk);
  child.stderr.on("data", (chunk) => output += chunk);
  try {
    const deadline = Date.now() + 20_000;
    while (!/join failed \(attempt 4\)/.test(output)) {
      assert.ok(Date.now() < deadline, `no fourth attempt in time:\n${output}`);
      assert.equal(child.exitCode, null, output);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    child.kill("SIGKILL");
    await new Promise((resolve) => child.on("exit", resolve));
  }
});
