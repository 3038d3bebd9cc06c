# underpay: the two commands a new machine needs are `make demo` and `make test`.
# Each creates .venv, installs the project into it, and runs.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_DIR ?= demo-output

.PHONY: install demo test lint bench bench-10m browser java clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "underpay needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/underpay demo --out $(DEMO_DIR)

# Headless Chromium renders the reports in the browser tests; install Debian's package where missing.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      echo "installing Debian's chromium for the browser tests"; \
	      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	        || echo "warning: could not install chromium; browser tests will be skipped"; \
	    else echo "note: chromium not found and not root; browser tests will be skipped (apt-get install chromium)"; fi; }

# Local Spark (the sameness tests of tests/spark) needs a Java 17+ runtime: Debian's JRE where missing.
java:
	@command -v java >/dev/null 2>&1 || [ -x "$${JAVA_HOME:-/nonexistent}/bin/java" ] || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      echo "installing Debian's openjdk-17-jre-headless for the Spark tests"; \
	      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null) \
	        || echo "warning: could not install a Java runtime; Spark tests will be skipped"; \
	    else echo "note: java not found and not root; Spark tests will be skipped (apt-get install openjdk-17-jre-headless)"; fi; }

# ruff (lint + format check) and mypy (core and ingest; settings in pyproject.toml) before the tests.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install browser java lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

# The peer parsers get their own environment: what they pull in (pandas) stays out of the one
# underpay is measured in.
PEERS := .venv-peers
$(PEERS)/.installed-stamp: benchmarks/peers.txt
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install -q -r benchmarks/peers.txt && touch $@ \
	  || echo "warning: peer parsers not installed; the ingest benchmark skips them"

bench: install $(PEERS)/.installed-stamp
	UNDERPAY_PEERS_PYTHON=$(PEERS)/bin/python $(BIN)/python -m benchmarks

# Opt-in: the end-to-end run at 10,000,000 service lines (about 15 minutes, plus about 3 to write
# 1.4 GB of 835 files the first time), seconds and peak memory per stage.
bench-10m: install
	UNDERPAY_E2E_SIZES=10000000 $(BIN)/python -m benchmarks e2e

clean:
	rm -rf $(VENV) $(PEERS) $(DEMO_DIR) .pytest_cache .hypothesis
