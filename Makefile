# OpenClaw platform: the two commands a newcomer runs are `make demo` and
# `make test`; each bootstraps what it needs (venv, Docker engine, images).
SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
export PATH := $(VENV)/bin:$(PATH)
# Molecule and Ansible write under $HOME: keep that inside the checkout.
export HOME := $(ROOT)/.cache/home
export ANSIBLE_HOME := $(ROOT)/.cache/ansible
export PIP_DISABLE_PIP_VERSION_CHECK := 1
S ?=
SCENARIOS ?= $(sort $(filter-out _shared,$(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))))

.PHONY: help bootstrap venv docker images lint unit docs molecule molecule-all awx-sim test demo demo-clean bench bench-baseline lock clean

help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

bootstrap: ## Install everything the tests and the demo need (idempotent)
	@scripts/bootstrap.sh

venv: ## Create/refresh .venv from the pinned requirements
	@scripts/bootstrap.sh venv

docker: ## Make sure a Docker engine answers (install/start dockerd if needed)
	@scripts/ensure-docker.sh

images: ## Build the local systemd test images (only when their recipe changed)
	@scripts/build-test-images.sh

lint: ## ansible-lint, yamllint, syntax checks, ruff
	@scripts/run-phase.sh lint scripts/lint.sh

unit: ## Unit tests: collection modules and the runtime
	@scripts/run-phase.sh unit scripts/unit.sh

docs: ## Regenerate the variables tables in roles/*/README.md from argument specs
	@python3 scripts/role-docs.py --write

molecule: ## Run one Molecule scenario: make molecule S=preflight
	@test -n "$(S)" || { echo "usage: make molecule S=<scenario>  (one of: $(SCENARIOS))"; exit 2; }
	@scripts/run-phase.sh "molecule:$(S)" molecule test -s $(S)

molecule-all: ## Run every Molecule scenario (light ones 2 at a time, load tests alone)
	@scripts/molecule-all.sh

awx-sim: ## Run every AWX job template and workflow as AWX runs them (Molecule scenario awx; docs/awx.md)
	@scripts/bootstrap.sh
	@scripts/run-phase.sh molecule:awx molecule test -s awx

test: ## Everything: bootstrap, lint, unit tests, every Molecule scenario
	@scripts/test.sh

demo: ## Provision the sandbox host with the whole stack and show it serving
	@scripts/bootstrap.sh
	@scripts/demo.sh

demo-clean: ## Remove everything `make demo` created
	@scripts/demo.sh clean

bench: ## Benchmarks (runtime vs peers, the OS baseline's cost); writes artifacts/bench/
	@scripts/bootstrap.sh venv
	@rc=0; scripts/bench.sh || rc=$$?; \
	if [[ " $${BENCH_PARTS:-baseline} " == *" baseline "* ]]; then \
	    echo "==> [bench] OS baseline on/off (two test hosts, alternating load gate rounds)"; \
	    scripts/bench-baseline.py || { rc=1; echo "==> [bench] target missed: load gate on the baselined host"; }; \
	fi; exit $$rc

bench-baseline: ## The OS baseline's cost alone: load gate with and without it (two test hosts)
	@scripts/bootstrap.sh venv
	@scripts/bench-baseline.py

lock: ## Re-freeze requirements/constraints.txt from .venv
	@scripts/bootstrap.sh lock

clean: demo-clean ## Remove caches and artifacts (keeps .venv and images)
	rm -rf .cache/ansible-facts artifacts
