# loadgate — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SCENARIO ?= smoke
BUDGETS ?= budgets/default.yml
INSTALLED := $(VENV)/.installed

.PHONY: help venv engine loadtest bench bench-generator tune test unit integration lint typecheck check lock clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(INSTALLED): requirements/dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

venv: $(INSTALLED) ## create .venv from the lock file

engine: ## make sure a Docker engine answers (on Debian as root: install and start one)
	@bash scripts/ensure-engine.sh

loadtest: venv engine ## run SCENARIO (default smoke) against the reference gateway, judged by BUDGETS
	$(BIN)/loadgate run --scenario $(SCENARIO) --budgets $(BUDGETS)

bench: venv engine ## benchmark the gateway's hot path (1 CPU) against the mock alone and naive gateways
	$(BIN)/loadgate bench

bench-generator: venv engine ## the open-model generator's req/s per core and lag, beside Locust and wrk
	$(BIN)/loadgate bench --generator

tune: venv engine ## find the compose limits the gateway needs at the steady load (no write)
	$(BIN)/loadgate tune --budgets $(BUDGETS)

test: venv engine ## the whole suite: unit tests and Docker integration tests
	LOADGATE_REQUIRE_DOCKER=1 $(BIN)/pytest

unit: venv ## unit tests only (no Docker, no network)
	$(BIN)/pytest -m "not docker"

integration: venv engine ## Docker integration tests only
	LOADGATE_REQUIRE_DOCKER=1 $(BIN)/pytest -m docker

lint: venv ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv ## mypy (strict) on the four packages and the tests
	$(BIN)/mypy

check: lint typecheck unit ## lint + types + unit tests

lock: venv ## re-resolve the lock files from pyproject.toml and requirements/*.in
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile -q --python-version 3.11 pyproject.toml --extra dev -o requirements/dev.lock
	$(BIN)/uv pip compile -q --python-version 3.11 requirements/gateway.in -c requirements/dev.lock -o requirements/gateway.lock
	$(BIN)/uv pip compile -q --python-version 3.11 requirements/mock.in -c requirements/gateway.lock -o requirements/mock.lock
	$(BIN)/uv pip compile -q --python-version 3.11 requirements/worker.in -c requirements/dev.lock -o requirements/worker.lock

clean: ## remove containers/networks of crashed runs, and the runs/ folder
	-$(BIN)/loadgate clean
	rm -rf runs
