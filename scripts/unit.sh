#!/usr/bin/env bash
# Unit and integration tests that need no Molecule host: the collection's
# modules, playbook renderers under tests/, and the runtime package.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0
echo "--> collection unit tests"
pytest -q -p no:cacheprovider collections/ansible_collections/openclaw/platform/tests/unit || fail=1
if [ -d tests ]; then
    echo "--> playbook tests (tests/)"
    pytest -q -p no:cacheprovider tests || fail=1
fi
if [ -d runtime/tests ]; then
    echo "--> runtime tests (runtime/tests)"
    (cd runtime && pytest -q -p no:cacheprovider) || fail=1
fi
if [ -d runtime/relay/tests ]; then
    echo "--> alert relay tests (runtime/relay/tests)"
    (cd runtime/relay && pytest -q -p no:cacheprovider) || fail=1
fi
exit $fail
