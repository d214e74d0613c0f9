# The two commands of the README: `make run` (local demo + dashboard) and `make test` (every test).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test check install system-deps validators-env lint typecheck bench bench-compare-env lambda-zip probe-dist \
	clean
PACKAGES := inferwatch drift quality collectors costs alerts readmodels shell dashboard app.py reference_service \
	probe/inferwatch_probe

$(STAMP): pyproject.toml probe/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet -e probe/
	touch $(STAMP)

install: $(STAMP)

## make run: the local demo (emulated functions, traffic, collection, alerts) and the dashboard at http://127.0.0.1:8501
run: install
	$(BIN)/inferwatch demo

## make test: the static checks (layers, lint, types), then every test, on SQLite and a real PostgreSQL,
## with real Chromium for the browser tests
test: check system-deps validators-env
	$(BIN)/pytest

## the layer contracts (import-linter), ruff and mypy --strict on every product package
check: lint typecheck

## system packages the tests need (Chromium, a running PostgreSQL 15); installs only what is missing
system-deps:
	bash .ci/system-deps.sh

lint: install
	$(BIN)/lint-imports
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy $(PACKAGES)

## the validators the tests run on the deployment files (parliament, cfn-lint with the serverless rules),
## in their own environment (never the product's)
validators-env: .venv-validators/.installed-stamp

.venv-validators/.installed-stamp: tests/validators/requirements.txt
	$(PYTHON) -m venv .venv-validators
	.venv-validators/bin/python -m pip install --quiet --upgrade pip
	.venv-validators/bin/python -m pip install --quiet -r tests/validators/requirements.txt
	touch .venv-validators/.installed-stamp

## NannyML and Evidently for the comparison benches, in their own environment (never the product's)
bench-compare-env: .venv-compare/.installed-stamp

.venv-compare/.installed-stamp: bench/compare-env/requirements.txt
	$(PYTHON) -m venv .venv-compare
	.venv-compare/bin/python -m pip install --quiet --upgrade pip
	.venv-compare/bin/python -m pip install --quiet -r bench/compare-env/requirements.txt
	touch .venv-compare/.installed-stamp

bench: install bench-compare-env
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

## the Lambda deployment zip of the reference service, with its unzipped size
lambda-zip: install
	$(BIN)/python reference_service/deploy/build_zip.py --arch arm64

## the probe users add to their own handlers: its wheel and a Lambda layer zip (python/inferwatch_probe/...)
DIST ?= dist
probe-dist: install
	rm -rf probe/build $(DIST)/inferwatch_probe-*.whl $(DIST)/inferwatch-probe-layer.zip
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir $(DIST) ./probe
	$(BIN)/python probe/build_layer.py $(DIST)

clean:
	rm -rf $(VENV) .venv-compare .venv-validators .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
