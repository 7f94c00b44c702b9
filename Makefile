# The two commands of the README:
#   make run   set everything up and run web + worker + beat on the embedded default
#   make test  set everything up and run the whole test suite
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
export PORT
# Links in notifications point at this site: the one make run serves, unless told otherwise.
SITE_URL ?= http://127.0.0.1:$(PORT)
export SITE_URL

.PHONY: run test setup browser lint audit bench-filing clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the declared dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

run: setup
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --no-input
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py seed_demo
	DEBUG=$${DEBUG:-true} PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --procfile Procfile.embedded --port $(PORT)

# The browser tests drive Debian's Chromium and the burst test uses wrk; install
# them when we can (root, apt). Without them those tests skip (and fail in CI).
browser:
	@{ command -v chromium && command -v wrk; } >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] \
	  && command -v apt-get >/dev/null && (apt-get update -qq \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium wrk >/dev/null) \
	  || echo "chromium or wrk is not installed: browser and burst tests will not run"; }

# The whole suite runs in two processes (pytest-xdist; tests/xdist_isolation.py gives
# each its own database, VAR_DIR and Redis keys): the live tests mostly wait on timers.
# A subset named in PYTEST_ARGS runs in one process unless PYTEST_WORKERS says otherwise.
PYTEST_WORKERS ?= $(if $(strip $(PYTEST_ARGS)),0,2)

test: setup browser
	$(BIN)/python -m pytest $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist worksteal) $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .

# Known-vulnerable dependencies (needs PyPI's JSON API or OSV to be reachable).
audit: setup
	$(BIN)/pip-audit --progress-spinner off
	$(BIN)/bandit -q -r api config crisis incidents integrations playbooks -ll -x '*/migrations/*'

bench-filing: setup
	$(BIN)/python bench/filing.py

clean:
	rm -rf $(VENV) var
