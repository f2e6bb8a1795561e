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
    rm -rf artifacts/preflight/"$HOST".json .cache/ansible-facts/"$HOST"
    exit 0
fi

start=$(date +%s)
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
echo
echo "The sandbox host is the container '$HOST' (docker exec -it $HOST bash)."
echo "Run it again: make demo (idempotent). Remove it: make demo-clean."
