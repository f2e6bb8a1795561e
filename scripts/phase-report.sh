#!/usr/bin/env bash
# Print the duration of every phase recorded by run-phase.sh.
set -euo pipefail
[ -f .cache/phases.tsv ] || exit 0
echo
echo "Phase durations:"
awk -F'\t' '{ t += $2; printf "  %-28s %6ss  %s\n", $1, $2, $3 } END { printf "  %-28s %6ss\n", "total", t }' .cache/phases.tsv
