# `make test` and `make demo` work on a fresh machine: they create .venv and install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TYPED := core ledger broker copytrade payments alerts reports omnibot bot
COMPOSE := $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

.PHONY: install test lint typecheck pytest audit compose-check bench demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict $(TYPED)

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

# Known vulnerabilities in every installed dependency, from PyPI's advisory data. --strict: a package that could
# not be checked fails the audit rather than passing unexamined.
audit: $(STAMP)
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off

demo: $(STAMP)
	$(BIN)/omnibot demo

# docker-compose.yml as Compose reads it, in both profiles, with .env.example's values: no Docker engine needed.
compose-check:
	@tmp=$$(mktemp -d) && cp docker-compose.yml Dockerfile $$tmp && cp .env.example $$tmp/.env && cd $$tmp && \
		for profile in ib sim; do $(COMPOSE) --profile $$profile config -q || exit 1; done
	@echo "docker-compose.yml: valid in the ib and sim profiles"

bench: $(STAMP)
	$(BIN)/python -m bench.ledger
	$(BIN)/python -m bench.broker
	$(BIN)/python -m bench.blocks
	$(BIN)/python -m bench.bot
	$(BIN)/python -m bench.copy
	$(BIN)/python -m bench.alerts
	$(BIN)/python -m bench.scale

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .demo
