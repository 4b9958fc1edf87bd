#!/usr/bin/env bash
# pytest in six lanes at once, as `make test` runs it, and the schema fuzzer beside them:
#   - unit, api and network-lab tests (PostgreSQL, Redis, namespaces), in front;
#   - the integration tests (worker processes), on a database and Redis databases of
#     their own;
#   - the end-to-end tests on libvirt's test hypervisor, in two halves by file name
#     (test_a* to test_k*, test_l* to test_z*), each half with its own stack;
#   - the end-to-end tests with real QEMU guests (tests/e2e/test_qemu_*.py, their stack);
#   - the fuzz lane: deploy/fuzz.py (schemathesis over /api/schema/ as an admin and a
#     member, against its own stack and database), FUZZ_SECONDS long; its seed is in
#     var/test-fuzz.log (replay: make fuzz FUZZ_SEED=<seed>).
#   - the chaos suite (tests/chaos: a boot storm while workers are killed and Redis and
#     PostgreSQL restarted; its own PostgreSQL cluster and Redis, `make chaos`).
# The end-to-end tests mostly wait on their stacks, the `openstack` CLI and the guests,
# so they run beside the others; each lane writes var/test-<lane>.log, printed when all
# are done, with each lane's slowest tests. The run fails when any lane fails, exit code 5
# (no tests collected) included.
#   deploy/test-lanes.sh [PYTHON]
set -uo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
PY="${1:-.venv/bin/python}"
mkdir -p var

qemu=(tests/e2e/test_qemu_*.py)
first=() second=()
for file in tests/e2e/test_*.py; do
    case "$file" in
        tests/e2e/test_qemu_*) ;;
        tests/e2e/test_[a-k]*) first+=("$file") ;;
        tests/e2e/test_[l-z]*) second+=("$file") ;;
        *) echo "test-lanes: $file is in no lane" >&2; exit 1 ;;
    esac
done

declare -A pids
lane() {  # lane NAME FILE...: start one lane of end-to-end tests in the background
    local name="$1"
    shift
    # pytest with no file would run every test path.
    [ "$#" -gt 0 ] || { echo "test-lanes: lane $name has no test file" >&2; exit 1; }
    "$PY" -m pytest -p no:cacheprovider --durations=8 "$@" >"var/test-$name.log" 2>&1 &
    pids[$name]=$!
}
trap 'kill "${pids[@]}" 2>/dev/null' INT TERM

# The integration lane: its own test database and broker databases beside the front lane's.
DATABASE_URL="${DATABASE_URL%/*}/stratus_integration" TEST_REDIS_DATABASES="10 11" \
    lane integration tests/integration
FUZZ_SECONDS="${FUZZ_SECONDS:-120}"
"$PY" deploy/fuzz.py --max-time "$FUZZ_SECONDS" >var/test-fuzz.log 2>&1 &
pids[fuzz]=$!

# qemu:///system is the machine's: the lane's guests are named apart from any other
# stack's (a `make run HYPERVISOR=qemu` beside the tests).
INSTANCE_NAME_TEMPLATE="stratus-test-%08x" lane e2e-qemu "${qemu[@]}"
lane e2e-a "${first[@]}"
lane e2e-b "${second[@]}"
lane chaos tests/chaos

"$PY" -m pytest --durations=15 --ignore=tests/e2e --ignore=tests/integration --ignore=tests/chaos | tee var/test-main.log
status=${PIPESTATUS[0]}
failed=()
[ "$status" -eq 0 ] || failed+=("unit/api/network (exit $status)")
for name in integration e2e-a e2e-b e2e-qemu chaos fuzz; do
    wait "${pids[$name]}"
    code=$?
    echo "---- lane $name (var/test-$name.log) ----"
    cat "var/test-$name.log"
    [ "$code" -eq 0 ] || failed+=("$name (exit $code)")
done
# One closing line for the lanes together (pytest's own closing lines are per lane).
"$PY" - var/test-main.log var/test-integration.log var/test-e2e-a.log var/test-e2e-b.log \
    var/test-e2e-qemu.log var/test-chaos.log <<'PY'
import re, sys
totals = {"passed": 0, "failed": 0, "skipped": 0}
for path in sys.argv[1:]:
    lines = [line for line in open(path, errors="replace") if re.match(r"=+ .* in [0-9.]+s", line)]
    for count, word in re.findall(r"(\d+) (passed|failed|skipped|errors?)", lines[-1] if lines else ""):
        totals["failed" if word.startswith("error") else word] += int(count)
print(f"lanes: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
PY
if [ "${#failed[@]}" -gt 0 ]; then
    # Every lane's failed and erroring tests once more, last, where a log cut short for
    # its length still shows them (the lanes' own summaries are spread over the output).
    echo "---- failures by lane ----"
    for name in main integration e2e-a e2e-b e2e-qemu chaos; do
        grep -E '^(FAILED|ERROR) ' "var/test-$name.log" | cut -c1-400 | sed "s/^/$name: /"
    done
    echo "test lanes failed: ${failed[*]}" >&2
    exit 1
fi
