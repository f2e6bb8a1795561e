#!/usr/bin/env bash
# Run one phase of `make test`, print its duration and record it in
# .cache/phases.tsv so the end of the run can show every phase's time.
# Usage: run-phase.sh NAME COMMAND [ARGS...]
set -uo pipefail
name=$1; shift
mkdir -p .cache
start=$(date +%s)
printf '\n==> [%s] %s\n' "$name" "$*"
"$@"
rc=$?
dur=$(( $(date +%s) - start ))
status=$([ $rc -eq 0 ] && echo ok || echo FAILED)
printf '%s\t%s\t%s\n' "$name" "$dur" "$status" >> .cache/phases.tsv
printf '==> [%s] %s in %ss\n' "$name" "$status" "$dur"
exit $rc
