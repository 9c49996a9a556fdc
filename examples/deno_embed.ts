// Embedding cairn in a Deno program: run with `deno run -A examples/deno_embed.ts`.
// From JSR once published: import { createAgent } from "jsr:@cairn/cairn";
import { createAgent } from "../mod.ts";

const agent = await createAgent({ nodeName: "deno-app" }); // in-process: no sockets
await agent.services.register({ name: "web", port: 8080, check: { ttl: "30s" } });
await agent.checks.pass("service:web");
const [web] = await agent.health.service("web", { passing: true });
console.log(`web is passing at ${web.address}:${web.service.port}`);
const changed = new Promise<string>((resolve) => {
  const watch = agent.watch.kvPrefix("config/", (entries) => {
    if (entries.length === 0) return;
    watch.cancel();
    resolve(entries[0].value);
  });
});
await agent.kv.put("config/mode", "blue");
console.log(`config/mode is now ${await changed}`);
await agent.stop();
