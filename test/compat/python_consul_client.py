# Goal: drive a cairn agent with Debian's python3-consul exactly as Python applications do, and
# print one JSON object of observations for python_consul_client_test.ts to assert on.
# Method: KV, blocking get, service + TTL check, health filters, session locks.
import json
import sys
import threading
import time

import consul

host, port = sys.argv[1], int(sys.argv[2])
c = consul.Consul(host=host, port=port)
out = {}

out["put"] = c.kv.put("py/config/a", "1")
c.kv.put("py/config/b", "2")
index, item = c.kv.get("py/config/a")
out["get"] = item["Value"].decode()
out["index_positive"] = int(index) >= 1
_, items = c.kv.get("py/", recurse=True)
out["recurse"] = [entry["Key"] for entry in items]
_, keys = c.kv.get("py/", keys=True, separator="/")
out["keys"] = keys
out["cas_stale"] = c.kv.put("py/config/a", "x", cas=1)
out["cas_ok"] = c.kv.put("py/config/a", "x", cas=item["ModifyIndex"])
out["missing"] = c.kv.get("py/none")[1]

# A blocking query wakes within a second of a write.
index, _ = c.kv.get("py/watched")
woke = {}
def watch():
    started = time.time()
    _, value = c.kv.get("py/watched", index=index, wait="10s")
    woke["value"] = value["Value"].decode() if value else None
    woke["seconds"] = time.time() - started
thread = threading.Thread(target=watch)
thread.start()
time.sleep(0.3)
c.kv.put("py/watched", "now")
thread.join(15)
out["blocking"] = woke

c.agent.service.register("api", service_id="api-1", port=9000, tags=["blue"],
                         check=consul.Check.ttl("30s"))
c.agent.service.register("api", service_id="api-2", port=9001, tags=["green"],
                         check=consul.Check.ttl("30s"))
_, nodes = c.health.service("api", passing=True)
out["passing_before"] = [entry["Service"]["ID"] for entry in nodes]
c.agent.check.ttl_pass("service:api-1")
c.agent.check.ttl_pass("service:api-2")
_, nodes = c.health.service("api", passing=True)
out["passing_after"] = sorted(entry["Service"]["ID"] for entry in nodes)
_, nodes = c.health.service("api", passing=True, tag="green")
out["tagged"] = [entry["Service"]["ID"] for entry in nodes]
out["agent_services"] = sorted(c.agent.services().keys())
out["catalog_services"] = c.catalog.services()[1]

holder = c.session.create(name="py-holder", ttl=30)
contender = c.session.create(name="py-contender")
out["acquire"] = c.kv.put("py/lock", "me", acquire=holder)
out["contend"] = c.kv.put("py/lock", "them", acquire=contender)
out["holder_seen"] = c.kv.get("py/lock")[1]["Session"] == holder
out["renew"] = c.session.renew(holder)["ID"] == holder
c.session.destroy(holder)
out["after_destroy_session"] = c.kv.get("py/lock")[1].get("Session")
out["leader"] = c.status.leader()
print(json.dumps(out))
