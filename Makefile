# The two commands of the README: `make run` and `make test`.
PY := .venv/bin/python
TEST_DATABASE_URL ?= postgres://stratus:stratus@127.0.0.1:5432/stratus
# test: libvirt's simulated hosts; qemu: one host running real QEMU guests (make run HYPERVISOR=qemu)
HYPERVISOR ?= test

.PHONY: run start stop test lint format bench setup setup-dev

run: setup        ## everything in the foreground; Ctrl-C stops it all
	$(PY) deploy/stack.py run --hypervisor $(HYPERVISOR)

start: setup      ## the same in the background (pids and logs under var/)
	$(PY) deploy/stack.py start --hypervisor $(HYPERVISOR)

stop:
	@[ -x $(PY) ] && $(PY) deploy/stack.py stop || true

test: setup-dev   ## lint, then unit, integration (PostgreSQL, Redis) and end-to-end tests
	deploy/test-services.sh
	@# CI sets up the QEMU host, and fails when it cannot: under CI=true a skipped test is a
	@# failure (tests/conftest.py). Elsewhere the real-guest tests run when qemu:///system answers.
	@if [ "$$CI" = true ]; then deploy/qemu-host.sh; fi
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	.venv/bin/lint-imports
	DATABASE_URL=$(TEST_DATABASE_URL) deploy/test-lanes.sh $(PY)

format: setup-dev
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: setup-dev  ## boot storm against a fresh stack on free ports
	$(PY) bench/boot_storm.py

setup:
	deploy/bootstrap.sh

setup-dev:
	deploy/bootstrap.sh --dev
