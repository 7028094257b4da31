# gridhub — the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
WORKSPACE ?= $(CURDIR)/demo-workspace
PERSONS   ?= 3000
SEED      ?= 7

.PHONY: install demo test lint bench clean services airflow browser

# Installs the project and everything it needs into .venv (re-runs only when pyproject.toml changes).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

## make demo: sample district → Airflow DAGs → validated Parquet warehouse → summary
demo: install
	$(BIN)/python -m gridhub.demo --workspace $(WORKSPACE) --persons $(PERSONS) --seed $(SEED)

## make airflow: the Airflow UI (standalone, SQLite) on the sample workspace — http://127.0.0.1:8080, admin / admin
AIRFLOW_PORT ?= 8080
airflow: install
	GRIDHUB_AIRFLOW_PORT=$(AIRFLOW_PORT) $(BIN)/python -m gridhub.standalone --workspace $(WORKSPACE) --persons $(PERSONS) --seed $(SEED)

## make test: install, start the local databases if they are down, install Chromium for the browser test, run the tests
## on both cores (pytest-xdist; TEST_WORKERS=0 runs them in one process). tests/conftest.py keeps each module on
## one worker and hands the longest groups out first.
TEST_WORKERS ?= 2
test: install services browser
	$(BIN)/python -m pytest -q --durations=15 -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

services:
	@bash .ci/services.sh

browser: install
	@VENV_PY=$(BIN)/python bash .ci/browser.sh

## make lint: formatting, lint rules, types and the one-way layers; CI runs it before the tests
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_layers.py tests/test_sizes.py

clean:
	rm -rf $(VENV) $(WORKSPACE) .pytest_cache build *.egg-info

## make portal: the department upload portal beside Airflow, on the sample workspace (PORTAL_PORT, default 8090)
PORTAL_PORT ?= 8090
.PHONY: portal
portal: install
	@test -f $(WORKSPACE)/gridhub.yaml || $(BIN)/gridhub sample --out $(WORKSPACE) --persons $(PERSONS) --seed $(SEED)
	$(BIN)/gridhub --workspace $(WORKSPACE) portal --port $(PORTAL_PORT)
