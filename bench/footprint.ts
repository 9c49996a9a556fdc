// Goal: the edge footprint of a cairn dev agent on each way it runs (Deno from source, Bun from
// source, Node from the npm build, the `bun build --compile` executable): on-disk size, start-up
// time until the HTTP API answers, and idle RSS, next to each runtime's own empty process (goal
// of issue 5: start-up < 150 ms, idle RSS <= 20 MiB above the empty process).
// Method: for each way, `--runs` times: spawn `cairn agent -dev` on 127.0.0.4x (own ports), poll
// `GET /v1/status/leader` every 2 ms from spawn until 200 (start-up), leave it idle for
// `--idle-ms`, read VmRSS from /proc/<pid>/status, SIGTERM it. Empty processes run a file that only
// waits, measured the same way after the same idle time. Medians; Linux only (/proc).
// Needs: `deno task npm` (Node row) and `deno task compile:bun` (executable row); missing builds
// are reported and skipped. Run: deno run -A bench/footprint.ts [--runs=5] [--idle-ms=2000]
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    "idle-ms": { type: "string", default: "2000" },
  },
});
const runs = Math.min(Math.max(Number(values.runs) || 5, 1), 20);
const idleMs = Math.min(Math.max(Number(values["idle-ms"]) || 2_000, 100), 30_000);
const root = new URL("../", import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), "cairn-footprint-"));

/** One way of running cairn. */
interface Way {
  name: string;
  /** The command without agent arguments. */
  command: string[];
  /** The program that is its "empty process". */
  empty: string[];
  /** Files whose sizes add up to what must be on disk. */
  files: string[];
  /** Why it is skipped, when it is. */
  missing?: string;
}

function which(command: string): string {
  return execFileSync("bash", ["-c", `readlink -f "$(command -v ${command})"`], {
    encoding: "utf8",
  })
    .trim();
}

function directoryBytes(path: string): number {
  return Number(execFileSync("du", ["-sb", path], { encoding: "utf8" }).split("\t")[0]);
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? "NaN");
  return kib / 1024;
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(killer);
}

/** Spawns an agent; resolves with ms until the HTTP API answered and the idle RSS. */
async function measureAgent(way: Way, host: string, port: number): Promise<[number, number]> {
  const args = [
    ...way.command.slice(1),
    "agent",
    "-dev",
    `-bind=${host}`,
    `-client=${host}`,
    `-http-port=${port}`,
    `-dns-port=${port + 100}`,
    "-log-level=warn",
  ];
  const started = performance.now();
  const child = spawn(way.command[0], args, { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk) => stderr += String(chunk));
  try {
    const deadline = started + 20_000;
    let startupMs = NaN;
    while (performance.now() < deadline && child.exitCode === null) {
      try {
        const response = await fetch(`http://${host}:${port}/v1/status/leader`);
        await response.body?.cancel();
        if (response.ok) {
          startupMs = performance.now() - started;
          break;
        }
      } catch {
        // Not listening yet.
      }
      await sleep(2);
    }
    if (Number.isNaN(startupMs)) {
      throw new Error(`Cannot start ${way.name} agent: no answer within 20 s (${stderr.trim()})`);
    }
    await sleep(idleMs);
    return [startupMs, rssMiB(child.pid!)];
  } finally {
    await stop(child);
  }
}

async function measureEmpty(way: Way): Promise<number> {
  const child = spawn(way.empty[0], way.empty.slice(1), { cwd: scratch, stdio: "ignore" });
  try {
    await sleep(idleMs);
    return rssMiB(child.pid!);
  } finally {
    await stop(child);
  }
}

function ways(): Way[] {
  const emptyScript = join(scratch, "empty.mjs");
  writeFileSync(emptyScript, "setTimeout(() => {}, 60_000);\n");
  const emptyExe = join(scratch, "empty-exe");
  execFileSync("bun", [
    "build",
    "--compile",
    "--minify",
    "--bytecode",
    "--format=esm",
    emptyScript,
    "--outfile",
    emptyExe,
  ], {
    stdio: "ignore",
  });
  const npmBin = join(root, "npm/package/bin/cairn.js");
  const exe = join(root, "dist/cairn");
  return [
    {
      name: "Deno (source)",
      command: ["deno", "run", "-A", "src/cli/main.ts"],
      empty: ["deno", "run", emptyScript],
      files: [which("deno"), join(root, "src"), join(root, "runtimes")],
    },
    {
      name: "Bun (source)",
      command: ["bun", "src/cli/main.ts"],
      empty: ["bun", emptyScript],
      files: [which("bun"), join(root, "src"), join(root, "runtimes")],
    },
    {
      name: "Node (npm build)",
      command: ["node", npmBin],
      empty: ["node", emptyScript],
      files: [which("node"), join(root, "npm/package")],
      missing: existsSync(npmBin) ? undefined : "run `deno task npm` first",
    },
    {
      name: "executable (bun --compile)",
      command: [exe],
      empty: [emptyExe],
      files: [exe],
      missing: existsSync(exe) ? undefined : "run `deno task compile:bun` first",
    },
  ];
}

function version(command: string): string {
  return execFileSync(command, ["--version"], { encoding: "utf8" }).split("\n")[0].trim();
}

async function main(): Promise<void> {
  const rows: string[] = [];
  let index = 0;
  for (const way of ways()) {
    const host = `127.0.0.${40 + index}`;
    index += 1;
    if (way.missing !== undefined) {
      console.error(`skipping ${way.name}: ${way.missing}`);
      continue;
    }
    const startups: number[] = [];
    const rss: number[] = [];
    for (let run = 0; run < runs; run += 1) {
      const [startupMs, rssValue] = await measureAgent(way, host, 18_500 + run);
      startups.push(startupMs);
      rss.push(rssValue);
    }
    const empties: number[] = [];
    for (let run = 0; run < Math.min(runs, 3); run += 1) empties.push(await measureEmpty(way));
    const sizeMiB = way.files.reduce((sum, path) =>
      sum + (statSync(path).isDirectory() ? directoryBytes(path) : statSync(path).size), 0) /
      1024 / 1024;
    const idle = median(rss);
    const empty = median(empties);
    rows.push(
      `| ${way.name} | ${sizeMiB.toFixed(1)} MiB | ${median(startups).toFixed(0)} ms ` +
        `[${
          startups.map((ms) => ms.toFixed(0)).join(", ")
        }] | ${idle.toFixed(1)} MiB | ` +
        `${empty.toFixed(1)} MiB | +${(idle - empty).toFixed(1)} MiB |`,
    );
    console.error(`measured ${way.name}`);
  }
  console.log(
    `Runtimes: ${version("deno")}, Bun ${version("bun")}, Node ${version("node")}; ` +
      `${runs} runs, idle ${idleMs} ms; medians.\n`,
  );
  console.log(
    "| way | on disk | start-up until HTTP answers [runs] | idle RSS | empty process RSS | agent above empty |",
  );
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const row of rows) console.log(row);
}

try {
  await main();
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(0);
