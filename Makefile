# The two commands of the README: `make run` and `make test`.
PY := .venv/bin/python
TEST_DATABASE_URL ?= postgres://stratus:stratus@127.0.0.1:5432/stratus

.PHONY: run start stop test lint format bench setup setup-dev

run: setup        ## everything in the foreground; Ctrl-C stops it all
	$(PY) deploy/stack.py run

start: setup      ## the same in the background (pids and logs under var/)
	$(PY) deploy/stack.py start

stop:
	@[ -x $(PY) ] && $(PY) deploy/stack.py stop || true

test: setup-dev   ## lint, then unit, integration (PostgreSQL, Redis) and end-to-end tests
	deploy/test-services.sh
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	.venv/bin/lint-imports
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) -m pytest

format: setup-dev
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: setup-dev  ## boot storm against a fresh stack on free ports
	$(PY) bench/boot_storm.py

setup:
	deploy/bootstrap.sh

setup-dev:
	deploy/bootstrap.sh --dev
