# Recado: `make run` starts everything on the embedded default; `make test` runs the whole suite.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: run test lint browser bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.base-installed: requirements/base.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements/base.txt
	touch $@

$(VENV)/.dev-installed: requirements/base.txt requirements/dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements/dev.txt
	touch $@ $(VENV)/.base-installed

# Keys for local runs, generated once and kept out of git (they decrypt the stored secrets).
var/local.env:
	mkdir -p var
	$(PYTHON) scripts/local_env.py > $@

run: $(VENV)/.base-installed var/local.env
	set -a && . ./var/local.env && set +a && \
	$(PY) manage.py migrate --no-input -v0 && \
	$(PY) manage.py createcachetable && \
	$(PY) manage.py setup_periodic_tasks && \
	$(PY) manage.py setup_sandbox --base-url http://127.0.0.1:$(PORT)/simulator/gateway && \
	$(PY) manage.py ensure_admin && \
	rm -rf var/prometheus && mkdir -p var/prometheus && \
	echo "Recado on http://127.0.0.1:$(PORT)/  (admin: /admin/, simulator: /simulator/)" && \
	exec $(VENV)/bin/honcho start -f Procfile

# Debian's chromium for the browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  ($$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium) \
	  || echo "chromium could not be installed: browser tests will be skipped"; }

test: $(VENV)/.dev-installed browser
	rm -rf var/test-broker
	# Connections closed after each task: the test database is dropped at the end of the run.
	DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-tests-only-secret-key} CELERY_FILESYSTEM_DIR=$(CURDIR)/var/test-broker \
	  FIELD_ENCRYPTION_KEY=$${FIELD_ENCRYPTION_KEY:-dGVzdHMtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleSE=} \
	  DATABASE_CONN_MAX_AGE=0 RECADO_ENV_FILE= \
	  $(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Ingest throughput and latency on PostgreSQL + Redis (prints figures; see bench/__main__.py).
bench: $(VENV)/.dev-installed
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wrk; }
	$(PY) -m bench

clean:
	rm -rf $(VENV) var
