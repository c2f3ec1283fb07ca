# The two commands of the README: `make run` and `make test`. The rest are helpers for developers.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
COPA_HOST ?= 127.0.0.1
COPA_PORT ?= 5000
FLASK := $(BIN)/flask --app wsgi

.PHONY: run test screens serve migrate seed procs openapi lock lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

# Installs exactly the versions in constraints.txt (regenerate it with `make lock`).
$(VENV)/.installed-run: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-run
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	touch $@

## run: install, migrate the database, load the demo data once, then start every process of
## the Procfile (web on $(COPA_HOST):$(COPA_PORT), relay, scheduler); Ctrl-C stops them all
run: $(VENV)/.installed-run migrate seed procs

migrate: $(VENV)/.installed-run
	$(FLASK) db upgrade

seed: $(VENV)/.installed-run
	$(FLASK) copa seed-demo

# One process with threads: the default in-memory rate-limit storage is per process
# (set COPA_RATELIMIT_STORAGE_URI=redis://... before running more workers).
serve: $(VENV)/.installed-run
	$(BIN)/gunicorn -c gunicorn.conf.py --bind $(COPA_HOST):$(COPA_PORT) --workers $${COPA_WORKERS:-1} --threads 4 \
		--access-logfile - wsgi:app

# honcho runs the Procfile's processes, prefixes their output with their names, and when one
# stops (or on Ctrl-C) stops the others: SIGTERM, then SIGKILL after 5 s. gunicorn reads
# its address and worker count from GUNICORN_CMD_ARGS and WEB_CONCURRENCY.
# One prometheus-client folder for all of them, emptied at each start, so the web's /metrics
# adds up the relay's attempts and the scheduler's reconcile runs with the requests.
METRICS_DIR ?= $(CURDIR)/instance/prometheus

procs: $(VENV)/.installed-run
	rm -rf "$(METRICS_DIR)" && mkdir -p "$(METRICS_DIR)"
	PATH="$(abspath $(BIN)):$$PATH" PROMETHEUS_MULTIPROC_DIR="$(METRICS_DIR)" \
	GUNICORN_CMD_ARGS="--bind $(COPA_HOST):$(COPA_PORT)" WEB_CONCURRENCY=$${COPA_WORKERS:-1} \
	$(BIN)/honcho --no-colour start --procfile Procfile

## test: install what the tests need and run the whole suite (COPA_TEST_DATABASE_URL for PostgreSQL)
# One worker per core (pytest-xdist), each on its own database; a test file stays on one worker.
PYTEST_ARGS ?= -n auto --dist loadfile

test: $(VENV)/.installed-test
	@command -v chromium >/dev/null || echo "NOTE: Chromium not found: the console browser tests will be SKIPPED (apt-get install chromium to run them)"
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## screens: the README's pictures of the console: its browser tests, saving each main page to docs/screens
screens: $(VENV)/.installed-test
	COPA_SCREENS_DIR=docs/screens $(BIN)/python -m pytest -p no:cacheprovider -n 0 -m slow tests/console -k browser

## openapi: regenerate openapi.yaml from the code (a test fails when it is stale)
openapi: $(VENV)/.installed-run
	$(FLASK) copa openapi --output openapi.yaml

## lock: re-resolve the dependencies of pyproject.toml into constraints.txt
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade "pip>=24" && .lock-venv/bin/pip install --quiet -e ".[test]"
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e ' > constraints.txt
	rm -rf .lock-venv

lint: $(VENV)/.installed-test
	$(BIN)/python -m ruff check . && $(BIN)/python -m ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache
