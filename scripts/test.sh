#!/usr/bin/env bash
# make test: bootstrap, then every phase even when an earlier one failed (so
# one run shows every problem), then the duration of each phase.
set -uo pipefail
cd "$(dirname "$0")/.."
rm -f .cache/phases.tsv
scripts/run-phase.sh bootstrap scripts/bootstrap.sh || { scripts/phase-report.sh; exit 1; }
fail=0
scripts/run-phase.sh lint scripts/lint.sh || fail=1
scripts/run-phase.sh unit scripts/unit.sh || fail=1
scripts/molecule-all.sh || fail=1
scripts/phase-report.sh
if [ $fail -ne 0 ]; then
    echo "make test: FAILED (see the phases marked FAILED above)"
else
    echo "make test: all phases passed"
fi
exit $fail
