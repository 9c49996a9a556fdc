// Goal: servers that disagree on -bootstrap-expect do not form a cluster, as Consul's
// maybeBootstrap refuses ("conflicting expect value"), and say why in their log.
// Method: two `cairn agent -server` processes on 127.0.20.41-42, one expecting 2 servers and one
// expecting 3, joined through gossip (8301 on each address): with two servers in sight, the first
// would bootstrap with both were the expectations not compared. The wait is bounded; nothing is
// timed as a result. (A forming server opens its HTTP API only once it has a cluster, so the
// processes are read through their logs.)
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runtimeCommand } from "../_support/agent_process.ts";
import { waitFor } from "../_support/wait_for.ts";

const root = mkdtempSync(join(tmpdir(), "cairn-expect-"));
const cliMain = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const children: ChildProcess[] = [];
after(async () => {
  for (const child of children) child.kill("SIGKILL");
  await Promise.all(
    children.map((child) =>
      child.exitCode === null && child.signalCode === null
        ? new Promise((resolve) => child.on("exit", resolve))
        : undefined
    ),
  );
  rmSync(root, { recursive: true, force: true });
});

function server(host: string, expect: number, joinAt?: string): { log: () => string } {
  const [command, args] = runtimeCommand(cliMain, [
    "agent",
    "-server",
    `-bootstrap-expect=${expect}`,
    `-data-dir=${join(root, host)}`,
    `-node=${host}`,
    `-bind=${host}`,
    `-client=${host}`,
    "-http-port=0",
    "-dns-port=0",
    "-serf-wan-port=-1",
    ...(joinAt === undefined ? [] : [`-retry-join=${joinAt}`]),
  ]);
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let log = "";
  child.stdout?.on("data", (chunk) => log += chunk);
  child.stderr?.on("data", (chunk) => log += chunk);
  return { log: () => log };
}

test("servers expecting different counts refuse to bootstrap, with the reason logged", async () => {
  const first = server("127.0.20.41", 2);
  const second = server("127.0.20.42", 3, "127.0.20.41");
  const conflictLogged = () =>
    /Cannot bootstrap yet: server "127\.0\.20\.42" expects 3 servers, this one 2/.test(
      first.log(),
    ) &&
    /Cannot bootstrap yet: server "127\.0\.20\.41" expects 2 servers, this one 3/.test(
      second.log(),
    );
  await waitFor(
    "both servers to log the conflict",
    () => Promise.resolve(conflictLogged() ? true : undefined),
    30_000,
    () => `\nfirst:\n${first.log()}\nsecond:\n${second.log()}`,
  );
  // A few more formation rounds (250 ms apart): still no cluster.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  assert.doesNotMatch(first.log() + second.log(), /Bootstrapped a new cluster/);
});
