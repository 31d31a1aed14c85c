# pai-jupyter: two commands do everything.
#   make demo   install, then run the end-to-end demo notebook on the local backend
#   make test   install, then lint, type-check and run every test (Python, REST, UI)
# Everything lands in .venv (Python) and node_modules folders (Node); nothing global
# except Debian's chromium for the UI tests (installed by scripts/install-ui-deps.sh).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-8)

.PHONY: install demo test lint pytest ui-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(PIP) install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python examples/run_demo.py

lint: install
	$(BIN)/ruff check pai_jupyter tests benchmarks examples
	$(BIN)/ruff format --check pai_jupyter tests benchmarks

pytest: install
	$(BIN)/python -m pytest -q -ra

test: lint pytest

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build dist pai_jupyter/labextension labextension/lib labextension/node_modules ui-tests/node_modules
