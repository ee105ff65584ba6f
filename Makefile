# Two commands do all set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test lint schema bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install  ## embedded PostgreSQL, demo tenants, prints the URL and demo logins
	$(BIN)/turnout serve --demo --sandbox --host $(HOST) --port $(PORT)

test: install  ## the whole suite (TURNOUT_TEST_DATABASE_URL or an embedded PostgreSQL)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

schema: install  ## rewrite the committed base SDL
	$(BIN)/turnout schema print > schema.graphql

bench: install
	$(BIN)/python bench/tenants.py

clean:
	rm -rf $(VENV) .turnout .pytest_cache .ruff_cache
