// Goal: measure cairn's DNS answers per second against dnsmasq serving the same names, in one
// run on one machine, with the same load generator (dnsperf, 64 queries outstanding).
// Method: a cairn dev agent on 127.0.0.20 with three passing instances of "web"; dnsmasq on
// 127.0.0.21 answering web.service.consul from a hosts file with the same three addresses;
// dnsperf runs DURATION seconds against each, twice, interleaved; we print qps, latency and the
// ratio. Run: deno run -A bench/dns_bench.ts [--seconds=10]
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startAgentProcess } from "../test/_support/agent_process.ts";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "10" } } });
const seconds = Math.min(60, Math.max(1, Number(values.seconds)));
const dir = mkdtempSync(join(tmpdir(), "cairn-dns-bench-"));
const addresses = ["10.1.0.1", "10.1.0.2", "10.1.0.3"];

const agent = await startAgentProcess({ host: "127.0.0.20" });
for (const [at, address] of addresses.entries()) {
  const body = JSON.stringify({
    Name: "web",
    ID: `web-${at}`,
    Address: address,
    Port: 80,
    Check: { TTL: "600s", Status: "passing" },
  });
  await fetch(`${agent.httpUrl}/v1/agent/service/register`, { method: "PUT", body });
}

writeFileSync(join(dir, "hosts"), addresses.map((a) => `${a} web.service.consul`).join("\n"));
const dnsmasq = spawn("dnsmasq", [
  "--keep-in-foreground",
  "--no-resolv",
  "--no-hosts",
  `--addn-hosts=${join(dir, "hosts")}`,
  "--listen-address=127.0.0.21",
  "--bind-interfaces",
  "--port=5353",
  "--cache-size=1000",
  "--user=root",
  "--pid-file=",
]);
await new Promise((resolve) => setTimeout(resolve, 500));
writeFileSync(join(dir, "queries"), "web.service.consul A\n");

function dnsperf(server: string, port: number) {
  const result = spawnSync("dnsperf", [
    "-s",
    server,
    "-p",
    String(port),
    "-d",
    join(dir, "queries"),
    "-l",
    String(seconds),
    "-q",
    "64",
  ], { encoding: "utf8", timeout: (seconds + 30) * 1000 });
  const out = result.stdout ?? "";
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? "0");
  const latencyMs = Number(/Average Latency \(s\):\s+([\d.]+)/.exec(out)?.[1] ?? "0") * 1000;
  const lost = /Queries lost:\s+(\d+)/.exec(out)?.[1] ?? "?";
  return { qps, latencyMs, lost };
}

const rows: string[] = [];
const cairnRuns = [];
const dnsmasqRuns = [];
for (let round = 0; round < 2; round += 1) {
  cairnRuns.push(dnsperf(agent.httpHost, agent.dnsPort));
  dnsmasqRuns.push(dnsperf("127.0.0.21", 5353));
}
const best = (runs: { qps: number }[]) => Math.max(...runs.map((run) => run.qps));
for (const [name, runs] of [["cairn", cairnRuns], ["dnsmasq", dnsmasqRuns]] as const) {
  for (const run of runs) {
    rows.push(
      `| ${name} | ${run.qps.toFixed(0)} | ${run.latencyMs.toFixed(3)} | ${run.lost} |`,
    );
  }
}
console.log(`dnsperf -q 64 -l ${seconds}, query "web.service.consul A" (3 answers)\n`);
console.log("| server | queries/s | avg latency ms | lost |\n| --- | --- | --- | --- |");
console.log(rows.join("\n"));
console.log(
  `\nratio cairn/dnsmasq (best of 2): ${(best(cairnRuns) / best(dnsmasqRuns)).toFixed(2)}`,
);
dnsmasq.kill("SIGTERM");
await agent.stop();
