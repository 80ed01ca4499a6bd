# One target per developer task. Every target creates/uses .venv; nothing is installed outside it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The map page: built from web/ (npm packages pinned by web/package-lock.json) into the package; not committed.
WEB_BUILT := src/deconfliction/web/static/app.js
WEB_SOURCES := web/package.json web/package-lock.json web/build.mjs $(wildcard web/src/*)

.PHONY: install debian-packages demo test test-fast bench check clean

install: $(STAMP) $(WEB_BUILT)

debian-packages:
	sh scripts/ensure_debian_packages.sh

$(WEB_BUILT): $(WEB_SOURCES) src/deconfliction/scenario/deir_ez_zor.json
	@command -v npm >/dev/null || { echo "npm is needed to build the map page: apt-get install nodejs npm"; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error
	cd web && npm run --silent build

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/deconf demo

test: install debian-packages
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow" -x -q

bench: install debian-packages
	command -v wrk >/dev/null || (apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)) || echo "wrk not installed: the workers bench uses Python clients"
	$(BIN)/python bench/run.py

check: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info web/node_modules src/deconfliction/web/static test-artifacts
