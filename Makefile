# The two commands of the README: `make run` and `make test`.
PY := .venv/bin/python
TEST_DATABASE_URL ?= postgres://stratus:stratus@127.0.0.1:5432/stratus
# test: libvirt's simulated hosts; qemu: one host running real QEMU guests (make run HYPERVISOR=qemu)
HYPERVISOR ?= test
# dev: embedded defaults (SQLite, runserver); production: PostgreSQL and gunicorn (README)
SHAPE ?= dev

.PHONY: run start stop test lint format bench fuzz chaos setup setup-dev

run: setup        ## everything in the foreground; Ctrl-C stops it all
	$(PY) deploy/stack.py run --hypervisor $(HYPERVISOR) --shape $(SHAPE)

start: setup      ## the same in the background (pids and logs under var/)
	$(PY) deploy/stack.py start --hypervisor $(HYPERVISOR) --shape $(SHAPE)

stop:
	@[ -x $(PY) ] && $(PY) deploy/stack.py stop || true

test: setup-dev   ## lint, then unit, integration (PostgreSQL, Redis) and end-to-end tests
	deploy/test-services.sh
	@# CI sets up the QEMU host, and fails when it cannot: under CI=true a skipped test is a
	@# failure (tests/conftest.py). Elsewhere the real-guest tests run when qemu:///system answers.
	@if [ "$$CI" = true ]; then deploy/qemu-host.sh; fi
	@# The network agents' lab (tests/network): Open vSwitch, dnsmasq, nftables from apt.
	@if [ "$$CI" = true ]; then deploy/ovs-host.sh; fi
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	.venv/bin/lint-imports
	DATABASE_URL=$(TEST_DATABASE_URL) deploy/test-lanes.sh $(PY)

format: setup-dev
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: setup-dev  ## boot storm against a fresh production-shape stack (100 hosts) on free ports
	$(PY) bench/boot_storm.py

# schemathesis over /api/schema/ against a fresh stack, as admin and as member at once, for
# FUZZ_SECONDS; fails on any 5xx, a response the schema does not describe or a 4xx that
# left a row, and prints its seed (replay: make fuzz FUZZ_SEED=<seed> FUZZ_SECONDS=<s>).
# make test runs it as its fuzz lane (deploy/test-lanes.sh).
FUZZ_SECONDS ?= 90
fuzz: setup-dev   ## the schema fuzzer against a fresh stack on free ports
	$(PY) deploy/fuzz.py --max-time $(FUZZ_SECONDS) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

# The chaos suite alone (make test runs it as a lane): a 200-server boot storm while a
# compute worker, a conductor and a scheduler are killed and Redis and PostgreSQL
# restarted (its own cluster and redis-server), every task delivered twice; it prints a
# table per scenario.
chaos: setup-dev  ## the chaos suite (tests/chaos) on its own PostgreSQL and Redis
	deploy/test-services.sh
	$(PY) -m pytest -p no:cacheprovider -s tests/chaos

setup:
	deploy/bootstrap.sh

setup-dev:
	deploy/bootstrap.sh --dev
