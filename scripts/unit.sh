#!/usr/bin/env bash
# Unit and integration tests that need no Molecule host: the collection's
# modules, playbook renderers under tests/, and the runtime package.
#
# Most of these tests wait (on ansible-playbook, a server starting, a
# container): measured on the 2-core machine, tests/ used 5 min of CPU in a
# 15 min run and runtime/tests 1.5 min in 4.3 min. They run in
# OPENCLAW_PYTEST_WORKERS pytest-xdist workers (default 3; 1 turns it off).
# Tests that measure rates or wait for timed alerts run first, alone, so
# other workers cannot disturb their figures: TIMED below.
set -uo pipefail
cd "$(dirname "$0")/.."
WORKERS=${OPENCLAW_PYTEST_WORKERS:-3}
TIMED=(tests/playbooks/test_loadgate.py tests/monitoring/test_alert_e2e.py
       tests/monitoring/test_loadgate_agreement.py tests/monitoring/test_status_page.py)
xdist=()
# --dist loadfile: a file's tests stay on one worker, in order, sharing its
# module fixtures (a test file is written to run that way).
[ "$WORKERS" -gt 1 ] && xdist=(-n "$WORKERS" --dist loadfile)
fail=0
# Tests that run the runtime image share one build (the script locks), made
# here so its minutes show in this phase's log rather than in one test's setup.
if [ -d tests ] && docker info >/dev/null 2>&1; then
    scripts/build-runtime-image.sh || fail=1
fi
echo "--> collection unit tests"
pytest -q -p no:cacheprovider collections/ansible_collections/openclaw/platform/tests/unit || fail=1
if [ -d tests ]; then
    timed=()
    for t in "${TIMED[@]}"; do [ -e "$t" ] && timed+=("$t"); done
    if [ ${#timed[@]} -gt 0 ]; then
        echo "--> timed tests, alone (${timed[*]})"
        pytest -q -p no:cacheprovider "${timed[@]}" || fail=1
    fi
    echo "--> playbook tests (tests/)"
    pytest -q -p no:cacheprovider "${xdist[@]}" "${timed[@]/#/--ignore=}" tests || fail=1
fi
if [ -d runtime/tests ]; then
    echo "--> runtime tests (runtime/tests)"
    (cd runtime && pytest -q -p no:cacheprovider "${xdist[@]}") || fail=1
fi
if [ -d runtime/relay/tests ]; then
    echo "--> alert relay tests (runtime/relay/tests)"
    (cd runtime/relay && pytest -q -p no:cacheprovider) || fail=1
fi
exit $fail
