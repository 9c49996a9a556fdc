// Goal: give runtime_test.ts a separate process on the same runtime, for what one process cannot
// observe about itself: whether unref'd resources let it exit.
// Method: run as `<runtime> runtime_fixture.ts <mode>`; each mode prints one line the test checks.
//   unref            opens one of every resource unref'd, prints "started", and must exit by itself
//   keep-alive       schedules a keepAlive timer that prints "fired" after 300 ms
//   signal           sends itself SIGHUP and prints "SIGHUP" from its onSignal handler
//   stdio            writes 3,000 numbered lines to stdout and one to stderr, then exits at once
import process from "node:process";
import { detectRuntime } from "../../runtimes/mod.ts";

const loopback = { host: "127.0.0.1", port: 0 };

async function main(): Promise<void> {
  const runtime = await detectRuntime();
  const mode = runtime.args()[0];
  if (mode === "unref") {
    runtime.timers.after(30_000, () => runtime.writeStdout("timer fired\n"));
    runtime.timers.every(1_000, () => runtime.writeStdout("interval fired\n"));
    const packets = await runtime.bindPackets(loopback);
    packets.onPacket(() => {});
    const accepted: unknown[] = [];
    const listener = await runtime.listenStreams(loopback, (stream) => accepted.push(stream));
    const stream = await runtime.dial(listener.address, { timeoutMs: 5_000 });
    stream.onData(() => {});
    await runtime.serveHttp(() => new Response("ok"), loopback);
    runtime.writeStdout("started\n");
    return;
  }
  if (mode === "keep-alive") {
    runtime.timers.after(300, () => runtime.writeStdout("fired\n"), { keepAlive: true });
    return;
  }
  if (mode === "signal") {
    const timeout = runtime.timers.after(10_000, () => runtime.exit(2), { keepAlive: true });
    const remove = runtime.onSignal("SIGHUP", () => {
      runtime.writeStdout("SIGHUP\n");
      remove();
      timeout.cancel();
    });
    process.kill(process.pid, "SIGHUP");
    return;
  }
  if (mode === "stdio") {
    // More than a pipe buffer holds (64 KiB on Linux): nothing may be lost at the exit.
    for (let line = 0; line < 3_000; line++) {
      runtime.writeStdout(`line ${String(line).padStart(4, "0")} ${"x".repeat(50)}\n`);
    }
    runtime.writeStderr("to stderr\n");
    runtime.exit(0);
  }
  throw new TypeError(`Cannot run fixture: unknown mode "${mode}"`);
}

await main();
