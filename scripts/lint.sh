#!/usr/bin/env bash
# Fast checks (make lint): yamllint, ansible-lint (production profile),
# syntax check of every playbook, ruff, vulture (unused runtime code), role docs vs
# argument specs.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0
step() { printf -- '--> %s\n' "$1"; shift; "$@" || { echo "FAILED: $*"; fail=1; }; }

step "yamllint" yamllint --strict .
step "ansible-lint (production profile)" ansible-lint --nocolor -q
for pb in playbooks/*.yml; do
    step "syntax-check $pb" ansible-playbook --syntax-check -i inventories/sandbox "$pb"
done
step "ruff check" ruff check --quiet .
step "ruff format --check" ruff format --check --quiet collections molecule scripts tests
# Unused code in the runtime; names only frameworks call are listed in the whitelist.
step "vulture (unused runtime code)" vulture runtime/src runtime/vulture_whitelist.py --min-confidence 60
step "role docs match argument specs" python3 scripts/role-docs.py --check
# awx/controller.yml: surveys against AWX's survey-spec rules and the playbooks' argument specs.
step "AWX surveys, templates, workflows" python3 scripts/awx-survey-check.py
# execution-environment.yml: ansible-builder create into a temp dir, then check the Containerfile and its pins.
step "execution environment build context" python3 scripts/ee-check.py
# openclaw_kubernetes: both flavours rendered, core kinds vs the Kubernetes schemas, KServe kinds vs the kserve SDK models.
step "kubernetes objects vs schemas" python3 scripts/k8s-validate.py
exit $fail
