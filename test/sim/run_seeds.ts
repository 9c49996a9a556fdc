// Goal: run many simulation seeds from the command line and replay a failing one exactly.
// Method: `deno task sim --seeds=N --from=S` runs seeds S..S+N-1 (defaults: 300 from 1), stops at
// the first failure and prints it with its seed; `--seeds=1 --from=<seed>` replays that seed.

import process from "node:process";
import { parseArgs } from "node:util";
import { runSeed } from "./run_seed.ts";

const { values } = parseArgs({
  options: { seeds: { type: "string", default: "300" }, from: { type: "string", default: "1" } },
});
const count = Number(values.seeds);
const from = Number(values.from);
const startMs = performance.now();
let steps = 0;
let writes = 0;
let reads = 0;
let leaseReads = 0;
for (let seed = from; seed < from + count; seed += 1) {
  try {
    const report = runSeed(seed);
    steps += report.steps;
    writes += report.acknowledgedWrites;
    reads += report.consistentReads;
    leaseReads += report.defaultReads;
  } catch (error) {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    console.error(`FAILED seed=${seed}: replay with deno task sim --seeds=1 --from=${seed}`);
    process.exit(1);
  }
}
const seconds = ((performance.now() - startMs) / 1000).toFixed(1);
console.log(
  `${count} seeds from ${from} passed in ${seconds}s: ${steps} steps, ${writes} acknowledged ` +
    `writes, ${reads} consistent reads, ${leaseReads} lease reads checked`,
);
