/**
 * The web UI at `/ui/` (`-ui`): one self-contained page that reads the HTTP API — services with
 * their health, nodes, and the KV tree — and follows changes with blocking queries. No build
 * step and no external assets, so it works on an air-gapped edge host.
 *
 * @module
 */

import type { Routes } from "./routes.ts";

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cairn</title>
<style>
  :root { --fg:#1d2430; --muted:#5b6575; --line:#dfe3ea; --ok:#1a7f37; --warn:#9a6700; --bad:#cf222e; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, sans-serif; color:var(--fg); background:#f6f7f9; }
  header { display:flex; gap:1.5rem; align-items:center; padding:.8rem 1.5rem; background:#1d2430; color:#fff; }
  header h1 { font-size:1.1rem; margin:0; letter-spacing:.05em; }
  header nav a { color:#c9d1d9; text-decoration:none; margin-right:1rem; }
  header nav a.active { color:#fff; font-weight:600; }
  header .dc { margin-left:auto; color:#c9d1d9; }
  main { padding:1.2rem 1.5rem; max-width:1100px; }
  table { width:100%; border-collapse:collapse; background:#fff; border:1px solid var(--line); }
  th, td { text-align:left; padding:.5rem .75rem; border-bottom:1px solid var(--line); vertical-align:top; }
  th { font-size:.8rem; text-transform:uppercase; color:var(--muted); }
  .pill { display:inline-block; padding:0 .5rem; border-radius:1rem; font-size:.8rem; border:1px solid var(--line); margin-right:.25rem; }
  .passing { color:var(--ok); } .warning { color:var(--warn); } .critical { color:var(--bad); }
  pre { margin:0; white-space:pre-wrap; word-break:break-all; }
  .empty { color:var(--muted); padding:1rem 0; }
  a.key { color:#0969da; cursor:pointer; }
</style>
</head>
<body>
<header><h1>cairn</h1>
  <nav><a href="#services">Services</a><a href="#nodes">Nodes</a><a href="#kv">Key/Value</a></nav>
  <span class="dc" id="dc"></span></header>
<main id="main"><p class="empty">Loading…</p></main>
<script>
const main = document.getElementById("main");
const esc = (text) => String(text).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
const worst = (checks) => checks.some((c) => c.Status === "critical") ? "critical"
  : checks.some((c) => c.Status === "warning") ? "warning" : "passing";
let generation = 0;

async function api(path, index) {
  const sep = path.includes("?") ? "&" : "?";
  const url = "/v1/" + path + (index ? sep + "index=" + index + "&wait=60s" : "");
  const response = await fetch(url);
  const body = response.status === 404 ? null : await response.json();
  return { body, index: response.headers.get("X-Consul-Index") };
}

async function follow(path, render) {
  const mine = ++generation;
  let index;
  while (mine === generation) {
    try {
      const answer = await api(path, index);
      if (mine !== generation) return;
      index = answer.index;
      main.innerHTML = await render(answer.body);
    } catch (error) {
      main.innerHTML = '<p class="empty">Cannot reach the agent: ' + esc(error.message) + "</p>";
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

async function services(body) {
  const names = Object.keys(body || {});
  if (names.length === 0) return '<p class="empty">No services registered.</p>';
  const rows = [];
  for (const name of names) {
    const entries = (await api("health/service/" + encodeURIComponent(name))).body || [];
    const instances = entries.map((e) => '<span class="pill ' + worst(e.Checks) + '">' +
      esc(e.Node.Node + " " + (e.Service.Address || e.Node.Address) + ":" + e.Service.Port) + "</span>").join("");
    const tags = body[name].map((t) => '<span class="pill">' + esc(t) + "</span>").join("");
    rows.push("<tr><td>" + esc(name) + "</td><td>" + tags + "</td><td>" + instances + "</td></tr>");
  }
  return "<table><tr><th>Service</th><th>Tags</th><th>Instances</th></tr>" + rows.join("") + "</table>";
}

async function nodes(body) {
  const checks = (await api("health/state/any")).body || [];
  const rows = (body || []).map((n) => {
    const own = checks.filter((c) => c.Node === n.Node);
    return "<tr><td>" + esc(n.Node) + "</td><td>" + esc(n.Address) + '</td><td class="' + worst(own) + '">' +
      esc(worst(own)) + " (" + own.length + " checks)</td></tr>";
  });
  return "<table><tr><th>Node</th><th>Address</th><th>Health</th></tr>" + rows.join("") + "</table>";
}

function kv(body) {
  if (!body || body.length === 0) return '<p class="empty">The KV store is empty.</p>';
  const rows = body.map((e) => {
    let value = "";
    try { value = e.Value === null ? "" : atob(e.Value); } catch { value = "(binary)"; }
    return "<tr><td>" + esc(e.Key) + "</td><td><pre>" + esc(value.slice(0, 2000)) + "</pre></td><td>" +
      e.ModifyIndex + (e.Session ? ' <span class="pill">locked</span>' : "") + "</td></tr>";
  });
  return "<table><tr><th>Key</th><th>Value</th><th>Modify index</th></tr>" + rows.join("") + "</table>";
}

function route() {
  const view = location.hash.slice(1) || "services";
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.getAttribute("href") === "#" + view);
  }
  if (view === "nodes") follow("catalog/nodes", nodes);
  else if (view === "kv") follow("kv/?recurse", kv);
  else follow("catalog/services", services);
}

api("agent/self").then((a) => {
  document.getElementById("dc").textContent = a.body.Config.NodeName + " · " + a.body.Config.Datacenter;
});
addEventListener("hashchange", route);
route();
</script>
</body>
</html>
`;

/** Registers `/ui` and `/ui/` (the page). */
export function registerUiRoutes(routes: Routes): void {
  const handler = () =>
    new Response(page, {
      headers: {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy":
          "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
      },
    });
  routes.add("/ui", { GET: handler });
  routes.add("/ui/", { GET: handler });
}
