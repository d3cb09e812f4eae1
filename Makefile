# Two commands on a fresh machine with Python 3.11 and pip: `make demo` and `make test`;
# for a class, `make viz` (the classroom app; docs/teaching/README.md).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
CLI     = $(VENV)/bin/clustersim
STAMP   = $(VENV)/.installed-stamp

export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba

.PHONY: install browser-deps demo viz test test-fast bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test,app]"
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the browser tests of the app (Playwright's own browser download needs
# more than a package registry). Installed when missing and we are root (CI is); otherwise the
# command to run is printed, and the browser tests skip, except in CI (CI=true), where they fail.
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else \
			echo "browser tests need Debian's chromium: sudo apt-get install chromium"; \
		fi; \
	fi

# The flagship comparison, with each replicate's parameters drawn from the published posterior
# of the joint calibration (docs/validation.md, "Joint calibration"); `make demo POSTERIOR=CAL`
# for another calibration's, `make demo POSTERIOR=` for a point estimate at the scenarios' values.
POSTERIOR ?= docs/validation/calibration_joint
demo: $(STAMP)
	$(CLI) compare scenarios/baseline.toml scenarios/cfc.toml scenarios/trust_then_cfc.toml \
		--reps 20 --why --out results/demo --force $(if $(POSTERIOR),--posterior $(POSTERIOR))

# The classroom app, from a fresh clone: installs once, then serves on 127.0.0.1 and prints the
# address to open. `make viz SCENARIO=scenarios/classroom_shocks.toml PORT=8800` for another
# scenario or port. Ctrl+C stops it (the server too).
SCENARIO ?= scenarios/classroom_cluster_formation.toml
PORT     ?= 8765
viz: $(STAMP)
	@$(CLI) viz $(SCENARIO) --port $(PORT)

test: $(STAMP) browser-deps
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

bench: $(STAMP)
	$(CLI) bench --full --json results/bench/bench.json

lint: $(STAMP)
	$(VENV)/bin/ruff check sim tests

clean:
	rm -rf .cache build *.egg-info .pytest_cache
