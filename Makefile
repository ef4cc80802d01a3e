# The README's commands. `make serve` runs the service on SQLite with its scheduler; `make test` runs everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install serve test test-python nodes n8n lint bench

$(BIN)/breakeven: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/breakeven

serve: install
	$(BIN)/breakeven serve

# Everything the tests need: Python deps, the node package's npm deps, and a real n8n (cached after the first run).
test: install nodes n8n lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-python: install
	$(BIN)/python -m pytest -q -m "not e2e"

nodes:
	cd n8n-nodes && npm ci --no-audit --no-fund && npm run lint && npm run build && npm test

n8n:
	bash scripts/install-n8n.sh

lint: install
	$(BIN)/ruff check service tests bench

bench: install
	$(BIN)/python -m bench
