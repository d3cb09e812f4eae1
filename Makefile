# Two commands on a fresh machine with Python 3.11 and pip: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
CLI     = $(VENV)/bin/clustersim
STAMP   = $(VENV)/.installed-stamp

export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba

.PHONY: install demo test test-fast bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(CLI) compare scenarios/baseline.toml scenarios/cfc.toml scenarios/trust_then_cfc.toml \
		--reps 8 --out results/demo --force

test: $(STAMP)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

bench: $(STAMP)
	$(CLI) bench --full --json results/bench/bench.json

lint: $(STAMP)
	$(VENV)/bin/ruff check sim tests

clean:
	rm -rf .cache build *.egg-info .pytest_cache
