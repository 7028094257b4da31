# gridhub — the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
WORKSPACE ?= $(CURDIR)/demo-workspace
PERSONS   ?= 3000
SEED      ?= 7

.PHONY: install demo test lint bench clean services

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

## make test: install, start the local databases if they are down, run the test suite
test: install services
	$(BIN)/python -m pytest -q

services:
	@bash .ci/services.sh

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(WORKSPACE) .pytest_cache build *.egg-info
