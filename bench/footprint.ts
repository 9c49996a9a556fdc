// Goal: the edge footprint of a cairn dev agent on each way it runs (Deno from source as
// `deno task cairn` runs it, Deno, Bun and Node on the npm package's bundled bin, Bun from source,
// the `bun build --compile` executable): on-disk size, start-up time until the HTTP API answers,
// and idle RSS, next to each runtime's own empty process (goal of issue 5: start-up < 150 ms,
// idle RSS <= 20 MiB above the empty process).
// Method: for each way, `--runs` times: spawn `cairn agent -dev` on 127.0.14.x (own ports), poll
// `GET /v1/status/leader` every 2 ms from spawn until 200 (start-up), read the CPU time the
// process has used by then (user + system, all its threads, from /proc/<pid>/stat: less moved by
// other load on the machine than the wall time), leave it idle for `--idle-ms`, read VmRSS and
// its split into RssAnon (the process's own memory) and RssFile (pages of the runtime's binary
// and other mapped files, shared with other processes) from /proc/<pid>/status, SIGTERM it. The
// empty process of a way is the same runtime with the same runtime flags running a file that
// only waits, measured the same way after the same idle time. Medians; Linux only (/proc).
// Needs: `deno task npm` (npm rows) and `deno task compile:bun` (executable row); missing builds
// are reported and skipped.
// Run: deno run -A bench/footprint.ts [--runs=5] [--idle-ms=2000] [--ways=node,bun-npm,...]
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
    ways: { type: "string", default: "" },
  },
});
const runs = Math.min(Math.max(Number(values.runs) || 5, 1), 20);
const idleMs = Math.min(Math.max(Number(values["idle-ms"]) || 2_000, 100), 30_000);
const onlyWays = values.ways === "" ? undefined : new Set(values.ways.split(","));
const root = new URL("../", import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), "cairn-footprint-"));

/** One way of running cairn. */
interface Way {
  /** Short key for --ways. */
  key: string;
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

/** Resident memory of a process, MiB. */
interface Rss {
  total: number;
  anon: number;
  file: number;
}

/** One run of an agent. */
interface AgentRun {
  startupMs: number;
  cpuMs: number;
  rss: Rss;
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

function readRss(pid: number): Rss {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) =>
    Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? "NaN") / 1024;
  return { total: field("VmRSS"), anon: field("RssAnon"), file: field("RssFile") };
}

/** User + system CPU time of `pid` so far, ms (all threads; clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function medianRss(samples: Rss[]): Rss {
  return {
    total: median(samples.map((rss) => rss.total)),
    anon: median(samples.map((rss) => rss.anon)),
    file: median(samples.map((rss) => rss.file)),
  };
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

/** Spawns an agent; resolves with the time and CPU until the HTTP API answered, and idle RSS. */
async function measureAgent(way: Way, host: string, port: number): Promise<AgentRun> {
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
    let cpu = NaN;
    while (performance.now() < deadline && child.exitCode === null) {
      try {
        const response = await fetch(`http://${host}:${port}/v1/status/leader`);
        await response.body?.cancel();
        if (response.ok) {
          startupMs = performance.now() - started;
          cpu = cpuMs(child.pid!);
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
    return { startupMs, cpuMs: cpu, rss: readRss(child.pid!) };
  } finally {
    await stop(child);
  }
}

async function measureEmpty(way: Way): Promise<Rss> {
  const child = spawn(way.empty[0], way.empty.slice(1), { cwd: scratch, stdio: "ignore" });
  try {
    await sleep(idleMs);
    return readRss(child.pid!);
  } finally {
    await stop(child);
  }
}

/** The runtime flags `deno task cairn` passes (deno.json), read so the two cannot drift. */
function denoTaskFlags(): string[] {
  const tasks = JSON.parse(readFileSync(join(root, "deno.json"), "utf8")).tasks;
  const words = String(tasks.cairn).split(/\s+/);
  return words.slice(words.indexOf("run") + 1, words.indexOf("src/cli/main.ts"));
}

function buildEmptyExecutable(emptyScript: string): string {
  const emptyExe = join(scratch, "empty-exe");
  const flags = ["--compile", "--minify", "--bytecode", "--format=esm"];
  execFileSync("bun", ["build", ...flags, emptyScript, "--outfile", emptyExe], {
    stdio: "ignore",
  });
  return emptyExe;
}

function ways(): Way[] {
  const emptyScript = join(scratch, "empty.mjs");
  writeFileSync(emptyScript, "setTimeout(() => {}, 60_000);\n");
  const npmBin = join(root, "npm/package/bin/cairn.js");
  const npmFiles = [join(root, "npm/package")];
  const npmMissing = existsSync(npmBin) ? undefined : "run `deno task npm` first";
  const exe = join(root, "dist/cairn");
  const denoFlags = denoTaskFlags();
  return [
    {
      key: "deno",
      name: `Deno (source, \`deno task cairn\`: ${denoFlags.join(" ")})`,
      command: ["deno", "run", ...denoFlags, "src/cli/main.ts"],
      empty: ["deno", "run", ...denoFlags, emptyScript],
      files: [which("deno"), join(root, "src"), join(root, "runtimes")],
    },
    {
      key: "deno-npm",
      name: "Deno (npm build)",
      command: ["deno", "run", "-A", npmBin],
      empty: ["deno", "run", emptyScript],
      files: [which("deno"), ...npmFiles],
      missing: npmMissing,
    },
    {
      key: "bun",
      name: "Bun (source)",
      command: ["bun", "src/cli/main.ts"],
      empty: ["bun", emptyScript],
      files: [which("bun"), join(root, "src"), join(root, "runtimes")],
    },
    {
      key: "bun-npm",
      name: "Bun (npm build, `bunx --bun`)",
      command: ["bun", npmBin],
      empty: ["bun", emptyScript],
      files: [which("bun"), ...npmFiles],
      missing: npmMissing,
    },
    {
      key: "node",
      name: "Node (npm build)",
      command: ["node", npmBin],
      empty: ["node", emptyScript],
      files: [which("node"), ...npmFiles],
      missing: npmMissing,
    },
    {
      key: "exe",
      name: "executable (bun --compile)",
      command: [exe],
      empty: [buildEmptyExecutable(emptyScript)],
      files: [exe],
      missing: existsSync(exe) ? undefined : "run `deno task compile:bun` first",
    },
  ].filter((way) => onlyWays === undefined || onlyWays.has(way.key));
}

function version(command: string): string {
  return execFileSync(command, ["--version"], { encoding: "utf8" }).split("\n")[0].trim();
}

function formatRss(rss: Rss): string {
  return `${rss.total.toFixed(1)} (${rss.anon.toFixed(1)} + ${rss.file.toFixed(1)})`;
}

async function measureWay(way: Way, host: string): Promise<string> {
  const agentRuns: AgentRun[] = [];
  for (let run = 0; run < runs; run += 1) {
    agentRuns.push(await measureAgent(way, host, 18_500 + run));
  }
  const empties: Rss[] = [];
  for (let run = 0; run < Math.min(runs, 3); run += 1) empties.push(await measureEmpty(way));
  const sizeMiB = way.files.reduce(
    (sum, path) =>
      sum + (statSync(path).isDirectory() ? directoryBytes(path) : statSync(path).size),
    0,
  ) /
    1024 / 1024;
  const startups = agentRuns.map((run) => run.startupMs);
  const idle = medianRss(agentRuns.map((run) => run.rss));
  const empty = medianRss(empties);
  return `| ${way.name} | ${sizeMiB.toFixed(1)} MiB | ${median(startups).toFixed(0)} ms [${
    startups.map((ms) => ms.toFixed(0)).join(", ")
  }] | ${median(agentRuns.map((run) => run.cpuMs)).toFixed(0)} ms | ${formatRss(idle)} | ${
    formatRss(empty)
  } | +${(idle.total - empty.total).toFixed(1)} MiB |`;
}

async function main(): Promise<void> {
  const rows: string[] = [];
  let index = 0;
  for (const way of ways()) {
    const host = `127.0.14.${1 + index}`;
    index += 1;
    if (way.missing !== undefined) {
      console.error(`skipping ${way.name}: ${way.missing}`);
      continue;
    }
    rows.push(await measureWay(way, host));
    console.error(`measured ${way.name}`);
  }
  console.log(
    `Runtimes: ${version("deno")}, Bun ${version("bun")}, Node ${version("node")}; ` +
      `${runs} runs, idle ${idleMs} ms; medians. RSS in MiB as total (anon + file).\n`,
  );
  console.log(
    "| way | on disk | start-up until HTTP answers [runs] | CPU until it answers | idle RSS | " +
      "empty process RSS | agent above empty |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const row of rows) console.log(row);
}

try {
  await main();
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(0);
