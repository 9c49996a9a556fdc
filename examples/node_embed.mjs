// Embedding cairn in a Node (20+) program: `npm install @cairn/cairn`, then `node node_embed.mjs`.
import { createAgent } from "@cairn/cairn";

const agent = await createAgent({ nodeName: "node-app" }); // in-process: no sockets
await agent.services.register({ name: "web", port: 8080, check: { ttl: "30s" } });
await agent.checks.pass("service:web");
const [web] = await agent.health.service("web", { passing: true });
console.log(`web is passing at ${web.address}:${web.service.port}`);
const changed = new Promise((resolve) => {
  const watch = agent.watch.kvPrefix("config/", (entries) => {
    if (entries.length === 0) return;
    watch.cancel();
    resolve(entries[0].value);
  });
});
await agent.kv.put("config/mode", "blue");
console.log(`config/mode is now ${await changed}`);
await agent.stop();
