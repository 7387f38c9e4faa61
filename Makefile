# civicdesk: `make run` starts everything, `make test` runs the whole suite. Both set up what they need first.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
APP := .venv/bin
ENGINE := bot/.venv/bin
# Rasa and TensorFlow are chatty and would phone home; neither is wanted here.
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

.PHONY: help setup app-env engine-env web-tools database models run cluster test test-app test-engine lint architecture

help:
	@echo "make run    set up, migrate, seed, train when needed, then start every process (Ctrl-C stops all)"
	@echo "make cluster  the same with two of every process behind HAProxy, on PostgreSQL and Redis (docs/deploy.md)"
	@echo "make test   set up, train when needed, then run the whole test suite in both environments"
	@echo "make lint   ruff, mypy and the import contracts (pyproject.toml [tool.importlinter])"

$(CURDIR)/.tools/bin/uv:
	"$$(scripts/find-python 3.11)" -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

app-env: $(UV)
	$(UV) sync --frozen --python "$$(scripts/find-python 3.11)"

engine-env: $(UV)
	$(UV) sync --frozen --project bot --python "$$(scripts/find-python 3.10)"

# axe-core, for the browser tests' accessibility checks (package-lock.json pins it).
web-tools: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts

setup: app-env engine-env web-tools

database: app-env
	$(APP)/civicdesk db upgrade
	$(APP)/civicdesk seed --if-empty

models: setup
	$(APP)/civicdesk train

run: setup database models
	$(APP)/civicdesk check
	exec $(APP)/honcho start -f Procfile

# Needs the Debian packages postgresql, redis-server and haproxy (.ci/run installs them).
cluster: setup models
	exec $(APP)/civicdesk cluster

test: setup models architecture test-app test-engine

test-app:
	$(APP)/pytest tests/app

test-engine:
	$(ENGINE)/python -m pytest -c bot/pyproject.toml --rootdir . tests/actions
	$(ENGINE)/rasa data validate --config bot/config.yml --domain "$$($(APP)/python -c 'from civicdesk.triage.training import rasa_domain; print(rasa_domain())')" --data bot/data nlu_data/chat --fail-on-warnings
	$(ENGINE)/rasa test core --stories bot/tests --model var/models/civicdesk.tar.gz --out var/results/core --e2e --fail-on-prediction-errors

# The layers and forbidden imports of README's "Layout", checked on every test run.
architecture: app-env
	$(APP)/lint-imports

lint: app-env architecture
	$(APP)/ruff check .
	$(APP)/ruff format --check .
	$(APP)/mypy
