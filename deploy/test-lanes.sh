#!/usr/bin/env bash
# pytest in three lanes at once, as `make test` runs it:
#   - unit, api and integration tests (PostgreSQL, Redis, the worker processes), in front;
#   - the end-to-end tests on libvirt's test hypervisor (one stack, the `openstack` CLI);
#   - the end-to-end tests with real QEMU guests (tests/e2e/test_qemu_*.py, their stack).
# The end-to-end lanes mostly wait on their stacks and guests, so they run beside the
# first; each writes var/test-<lane>.log, printed when all are done. The run fails when
# any lane fails, exit code 5 (no tests collected) included.
#   deploy/test-lanes.sh [PYTHON]
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${1:-.venv/bin/python}"
mkdir -p var

declare -A pids
lane() {  # lane NAME PYTEST-ARGS...: start one lane in the background
    local name="$1"
    shift
    "$PY" -m pytest -p no:cacheprovider "$@" >"var/test-$name.log" 2>&1 &
    pids[$name]=$!
}
trap 'kill "${pids[@]}" 2>/dev/null' INT TERM

lane e2e tests/e2e --ignore-glob='tests/e2e/test_qemu_*'
lane e2e-qemu tests/e2e/test_qemu_*.py

"$PY" -m pytest --ignore=tests/e2e
status=$?
failed=()
[ "$status" -eq 0 ] || failed+=("unit/api/integration (exit $status)")
for name in e2e e2e-qemu; do
    wait "${pids[$name]}"
    code=$?
    echo "---- lane $name (var/test-$name.log) ----"
    cat "var/test-$name.log"
    [ "$code" -eq 0 ] || failed+=("$name (exit $code)")
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "test lanes failed: ${failed[*]}" >&2
    exit 1
fi
