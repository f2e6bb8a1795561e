#!/usr/bin/env bash
# make demo: provision the sandbox host (a systemd container on this machine)
# with site.yml against inventories/sandbox, then show what it did.
# make demo-clean (demo.sh clean): remove everything the demo created.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH
HOST=openclaw-sandbox
NET=openclaw-sandbox
IMAGE=${OPENCLAW_SANDBOX_IMAGE:-openclaw-test/debian:bookworm}

if [ "${1:-}" = clean ]; then
    python3 scripts/sandbox-host.py remove "$HOST" --network "$NET"
    rm -rf artifacts/preflight/"$HOST".json .cache/ansible-facts/"$HOST" \
        artifacts/keys/"$HOST"-admin.key artifacts/loadgate/"$HOST".json
    docker volume rm -f openclaw-sandbox-docker >/dev/null 2>&1 || true
    exit 0
fi

start=$(date +%s)
# What the runtime role deploys from the controller: the image archive and
# the demo model (rebuilt only when runtime/ changed).
scripts/build-runtime-image.sh
# /var/lib/docker as a volume: the runtime's inner Docker engine gets overlay2.
python3 scripts/sandbox-host.py start "$HOST" --image "$IMAGE" --network "$NET" \
    --volume openclaw-sandbox-docker:/var/lib/docker
echo "==> [demo] ansible-playbook playbooks/site.yml -i inventories/sandbox"
ansible-playbook -i inventories/sandbox playbooks/site.yml
echo
echo "==> [demo] done in $(( $(date +%s) - start ))s"
python3 - "$HOST" <<'PY'
import json, sys
host = sys.argv[1]
report = json.load(open("artifacts/preflight/%s.json" % host))
print("Preflight report for %s (artifacts/preflight/%s.json):" % (host, host))
for c in report["checks"]:
    print("  %-8s %-12s %s" % (c["severity"].upper(), c["name"], c["message"]))
PY
ADDR=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$HOST")
python3 - "$HOST" "$ADDR" <<'PY'
import json, os, sys
host, addr = sys.argv[1:]
path = "artifacts/loadgate/%s.json" % host
key = "artifacts/keys/%s-admin.key" % host
print()
print("Runtime on %s: replicas at http://%s:8001 and http://%s:8002 (Open Inference Protocol)" % (host, addr, addr))
if os.path.exists(key):
    print("Admin API key: %s (mode 0600, only copy)" % key)
print("Try it:")
print("  curl -s -H \"Authorization: Bearer $(cat %s)\" -H 'Content-Type: application/json' \\" % key)
print("    -d '{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[1,64],\"data\":[%s]}]}' \\" % ",".join(["0"] * 64))
print("    http://%s:8001/v2/models/digits/infer" % addr)
if os.path.exists(path):
    r = json.load(open(path))
    print("Load gate (%s): %s req/s of %s requested for %ss, p50 %s ms, p99 %s ms, errors %s/%s -> %s" % (
        path, r["achieved_rate"], int(r["requested_rate"]), int(r["duration_s"]), r["p50_ms"],
        r["p99_ms"], r["errors"], r["requests"], "PASSED" if r["passed"] else "FAILED"))
PY
echo
echo "The sandbox host is the container '$HOST' (docker exec -it $HOST bash)."
echo "Run it again: make demo (idempotent). Remove it: make demo-clean."
