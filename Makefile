# The two commands that matter: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test test-embedded venv lint check bench soak clean help

help:
	@echo "make run    set up everything and start the portal, worker, beat and Webex emulator"
	@echo "make test   set up and run the checks (lint, format, layers, types) and the whole suite"
	@echo "make bench  run every benchmark in bench/ and write bench/RESULTS.md"
	@echo "make soak   ten minutes of rotation under faults, a killed worker and a broker restart"

# Reinstall only when a requirements file changes: second runs start in seconds.
$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 (or make PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# `make run` runs with DEBUG off, as production does (scripts/dev_env.py): WhiteNoise serves
# static files from the compressed manifest, so collect them, but only when a static file or
# the installed packages (admin, API docs assets) changed: second runs start in seconds.
STATIC_MANIFEST := staticfiles/staticfiles.json
$(STATIC_MANIFEST): $(STAMP) $(shell find static -type f 2>/dev/null)
	@$(BIN)/python scripts/dev_env.py
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@touch $@

run: venv $(STATIC_MANIFEST)
	@$(BIN)/python scripts/dev_env.py
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	@$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  Portal:         http://127.0.0.1:8000/   (Ctrl-C stops everything)"
	@echo "  Webex emulator: http://127.0.0.1:8900/_emulator/state"
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

# Services: see scripts/test_services.py (PostgreSQL/Redis when they answer, required under CI).
# pytest's exit code 5 (no tests collected) is non-zero, so make fails on it as it should.
test: venv check
	@exports="$$($(BIN)/python scripts/test_services.py)" || exit 1; eval "$$exports"; \
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The static checks `make test` runs first (and .pre-commit-config.yaml runs on commit): lint,
# format, the layer contracts in pyproject.toml, and the types.
check: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	DJANGO_SETTINGS_MODULE=byods_portal.settings_test $(BIN)/mypy .

# The same suite on the embedded defaults `make run` uses (SQLite, filesystem broker); the
# browser tests (marker `browser`) already ran in `make test` and do not depend on the database.
test-embedded: venv
	env -u DATABASE_URL -u CELERY_BROKER_URL -u REDIS_URL PORTAL_TEST_DB_NAME=embedded \
	  $(BIN)/python -m pytest -q -m "not browser" $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .

bench: venv
	$(BIN)/python bench/run_all.py

# Not part of CI: about ten minutes (SOAK_SECONDS, SOAK_DATASOURCES to change); see scripts/soak.py.
soak: venv
	$(BIN)/python scripts/soak.py

clean:
	rm -rf var staticfiles .pytest_cache .ruff_cache
