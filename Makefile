# The README's commands. `make serve` runs the service on SQLite with its scheduler; `make test` runs everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHART_JS := service/dashboard/node_modules/chart.js/dist/chart.umd.min.js

.PHONY: install serve test test-python nodes n8n system lint bench

$(BIN)/breakeven: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

# The dashboard's chart library comes from npm at install time (never copied into the repo, never a CDN).
$(CHART_JS): service/dashboard/package-lock.json
	cd service/dashboard && npm ci --no-audit --no-fund
	touch $@

install: $(BIN)/breakeven $(CHART_JS)

serve: install
	$(BIN)/breakeven serve

# Everything the tests need: Python and npm deps, Debian packages (Chromium, docker-compose), the node package,
# and a real n8n (cached outside the repo after the first run).
test: install system nodes n8n lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-python: install
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not e2e and not browser"

system:
	bash scripts/install-system-packages.sh

nodes:
	cd n8n-nodes && npm ci --no-audit --no-fund && npm run lint && npm run build && npm test

n8n:
	bash scripts/install-n8n.sh

lint: install
	$(BIN)/ruff check service tests bench

bench: install system
	$(BIN)/python -m bench
