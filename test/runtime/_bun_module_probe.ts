// Goal: tell which `node:` modules a Bun process has loaded, for bun_adapter_test.ts.
// Method: preloaded into the process (`bun --preload`); on SIGUSR2 it takes a heap snapshot and
// looks among its strings for one export name of each module (a loaded module's namespace holds
// its export names), then prints `node modules: <names>` with console.error (Bun's console
// writes without building process.stderr's stream, so the probe does not load what it looks
// for). The names are split in two here so that this file's own text never matches.
import process from "node:process";

/** Per module, an export name found nowhere else in an idle agent, in two halves. */
const MARKERS: Record<string, readonly [string, string]> = {
  "node:net": ["Block", "List"],
  "node:dgram": ["_createSocket", "Handle"],
  "node:stream": ["Pass", "Through"],
  "node:events": ["getEvent", "Listeners"],
  "node:http": ["global", "Agent"],
  "node:child_process": ["spawn", "Sync"],
  "node:fs": ["fdatasync", "Sync"],
  "node:util": ["parse", "Args"],
};

/** The slice of the `Bun` namespace used here, typed structurally. */
interface BunProbe {
  gc(force: boolean): void;
  generateHeapSnapshot(format: "v8"): string;
}

process.on("SIGUSR2", () => {
  const bun = (globalThis as unknown as { Bun: BunProbe }).Bun;
  bun.gc(true);
  const strings = new Set<string>(JSON.parse(bun.generateHeapSnapshot("v8")).strings);
  const loaded = Object.entries(MARKERS)
    .filter(([, [head, tail]]) => strings.has(head + tail))
    .map(([name]) => name);
  console.error(`node modules: ${loaded.join(" ")}`);
});
