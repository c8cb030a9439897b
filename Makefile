# Everyday verbs. `make help` lists them. `make run` and `make test` do all set-up on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export DATABASE_URL ?= sqlite:///./chipin.db

.DEFAULT_GOAL := help
.PHONY: help install migrate run test test-fast lint format bench postgres chromium clean

help: ## list the verbs
	@grep -E '^[a-z-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create the virtual environment and install Chipin with its dev tools

migrate: install ## bring the database (DATABASE_URL, default SQLite) to the latest schema
	$(BIN)/chipin db upgrade

run: migrate ## set up and start Chipin on SQLite with the offline parser (http://127.0.0.1:8000)
	$(BIN)/chipin serve

postgres: ## make sure the PostgreSQL server the tests use is running (installs it if missing)
	./scripts/ensure-postgres.sh

chromium: ## make sure Debian's Chromium is installed for the browser tests (installs it if missing)
	./scripts/ensure-chromium.sh

test: install postgres chromium ## set up, then run the whole test suite (SQLite and PostgreSQL)
	$(BIN)/pytest

test-fast: install ## unit tests only (no database)
	$(BIN)/pytest tests/unit -q

lint: install ## ruff, mypy and the import-linter layer contract
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy chipin
	$(BIN)/lint-imports

format: install ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install postgres ## run the benchmarks and print their figures
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/settle.py
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/telegram.py
	$(BIN)/python bench/twilio.py

clean: ## remove the virtual environment, caches and the local SQLite database
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis chipin.db chipin.db-wal chipin.db-shm
