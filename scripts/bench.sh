#!/usr/bin/env bash
# make bench: performance figures, always as ratios against baselines
# measured in the same run (never timed unit tests).
#   1. runtime/bench/run.py: the runtime with the demo model vs a bare
#      aiohttp JSON echo (ceiling; and a tuned one), MLServer and
#      FastAPI+uvicorn (wrk, 1 and 64 connections, JSON and binary bodies,
#      RSS per process; alternating rounds, medians)
#   2. runtime/bench/auth_cache.py: auth on/off, result cache at a 50% hit rate
#   3. openclaw-model bench: INT8 vs FP32 on the demo model and a 1024-1024-512 MLP
#   4. runtime/bench/mlp.py: a compute-bound MLP (1024-1024-1024-512-10, batches of
#      up to 64) served by the runtime against the pure-onnxruntime ceiling on the
#      same cores (alternating rounds, ratios); fails when any request took over 1 s.
#      With py-spy (.venv-bench) it also writes artifacts/bench/mlp-flame.svg.
# Results: artifacts/bench/*.json. BENCH_DURATION (s per round) and BENCH_ROUNDS
# shorten or lengthen the runs; BENCH_PARTS (e.g. "4" or "1 4") runs only those parts.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH
DURATION=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
mkdir -p artifacts/bench .cache/bench
command -v wrk >/dev/null || scripts/bootstrap.sh apt

# Every part runs; a part whose target is missed is named at the end (exit 1).
missed=()
PARTS=" ${BENCH_PARTS:-1 2 3 4} "
part() { [[ "$PARTS" == *" $1 "* ]]; }
if part 1; then
echo "==> [bench] 1/4 runtime vs peers (wrk, ${ROUNDS} rounds of ${DURATION}s per point)"
python runtime/bench/run.py --duration "$DURATION" --rounds "$ROUNDS" || missed+=("runtime vs peers (see NOT met above)")
fi

if part 2; then
echo "==> [bench] 2/4 auth and cache overhead"
python runtime/bench/auth_cache.py --seconds "$DURATION" --out artifacts/bench/auth_cache.json \
    || missed+=("auth overhead (target < 10% of server CPU per request)")
fi

if part 3; then
echo "==> [bench] 3/4 INT8 vs FP32 (demo model and a compute-bound MLP)"
repo=.cache/bench/models
[ -d "$repo/digits/2" ] || openclaw-model build-demo --to "$repo" --quiet
openclaw-model bench "$repo/digits/2" --against 1 --mlp --json > artifacts/bench/int8.json
python - <<'PY'
import json
data = json.load(open("artifacts/bench/int8.json"))
print("%-24s %6s %14s %14s %9s %9s" % ("model", "batch", "fp32 rows/s", "int8 rows/s", "x wall", "x cpu"))
for m in data["models"]:
    fp32, int8 = (str(v) for v in m["versions"])
    for r in m["results"]:
        print("%-24s %6d %14.0f %14.0f %8.2fx %8.2fx" % (
            m["model"], r["batch"], r[fp32]["rows_per_s"], r[int8]["rows_per_s"],
            r["speedup"], r["speedup_cpu"]))
PY
fi
if part 4; then
echo "==> [bench] 4/4 compute-bound MLP: runtime vs the onnxruntime ceiling (${ROUNDS} rounds)"
python runtime/bench/mlp.py --duration "$DURATION" --rounds "$ROUNDS" --profile \
    || missed+=("compute-bound MLP vs the onnxruntime ceiling (see NOT met above)")
fi

echo "==> [bench] results in artifacts/bench/"
if [ ${#missed[@]} -gt 0 ]; then
    printf '==> [bench] target missed: %s\n' "${missed[@]}"
    exit 1
fi
