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

# Node side: JupyterLab's jlpm (yarn) from the venv; the venv's bin first on PATH so
# the labextension build finds jupyter-builder and the JupyterLab it builds against.
# The top-level package.json is the workspace root (labextension/ and ui-tests/): one
# `jlpm install` here, one yarn.lock, and its scripts build, type-check and lint.
JLPM        := $(abspath $(BIN))/jlpm
NODE_ENV    := PATH="$(abspath $(BIN)):$$PATH" PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 YARN_ENABLE_PROGRESS_BARS=false
LABEXT_OUT  := pai_jupyter/labextension/static/style.js
LABEXT_SRC  := $(shell find labextension/src labextension/style labextension/scripts -type f 2>/dev/null) \
               labextension/package.json labextension/tsconfig.json
NODE_DEPS   := node_modules/.yarn-state.yml
UI_DEPS     := $(VENV)/.ui-deps
LABEXT_LINK := $(VENV)/share/jupyter/labextensions/pai-jupyter
SERVER_CONF := $(VENV)/etc/jupyter/jupyter_server_config.d/pai_jupyter.json

.PHONY: install demo test lint lint-ts tsc pytest labextension ui-deps ui-test screenshots bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# The editable install runs the jupyter-builder hook (pyproject), which builds the
# labextension inside pip's build environment; Node must be on PATH.
$(STAMP): $(BIN)/python pyproject.toml
	$(NODE_ENV) $(PIP) install -q -e ".[test]"
	touch $(STAMP)

$(NODE_DEPS): package.json labextension/package.json ui-tests/package.json yarn.lock | $(STAMP)
	$(NODE_ENV) $(JLPM) install
	touch $@

# Rebuild the prebuilt labextension whenever its sources change (pip's hook only builds once).
$(LABEXT_OUT): $(LABEXT_SRC) $(NODE_DEPS)
	$(NODE_ENV) $(JLPM) build:prod
	touch $@

labextension: $(LABEXT_OUT)

# JupyterLab finds the labextension and the server extension in the venv's share/ and etc/
# (the editable install copies them once; the link keeps the labextension current).
install: $(STAMP) $(LABEXT_OUT)
	@mkdir -p $(dir $(LABEXT_LINK)) $(dir $(SERVER_CONF))
	@if [ -e $(LABEXT_LINK) ] && [ ! -L $(LABEXT_LINK) ]; then rm -rf $(LABEXT_LINK); fi
	@ln -sfn $(CURDIR)/pai_jupyter/labextension $(LABEXT_LINK)
	@cp jupyter-config/server-config/pai_jupyter.json $(SERVER_CONF)
	@$(BIN)/jupyter server extension list 2>&1 | grep -q "pai_jupyter.*enabled" \
		|| { echo "pai_jupyter server extension is not enabled" >&2; exit 1; }
	@$(BIN)/jupyter labextension list 2>&1 | grep -q "pai-jupyter.*enabled" \
		|| { echo "pai-jupyter labextension is not enabled" >&2; exit 1; }

# Debian's chromium (Playwright cannot download browsers here); the Node packages are the workspace's.
$(UI_DEPS): scripts/install-ui-deps.sh $(NODE_DEPS) | $(STAMP)
	$(NODE_ENV) VENV_BIN=$(abspath $(BIN)) scripts/install-ui-deps.sh
	touch $@

ui-deps: $(UI_DEPS)

demo: install
	$(BIN)/python examples/run_demo.py

lint: install
	$(BIN)/ruff check pai_jupyter tests benchmarks examples
	$(BIN)/ruff format --check pai_jupyter tests benchmarks
	$(BIN)/lint-imports

lint-ts: $(NODE_DEPS)
	$(NODE_ENV) $(JLPM) lint

tsc: $(NODE_DEPS)
	$(NODE_ENV) $(JLPM) tsc

pytest: install
	scripts/eas-prediction-venv.sh || echo "eas-prediction venv not made: the test that needs it skips"
	$(BIN)/python -m pytest -q -ra

# JupyterLab (started by Playwright) with the extension, real jobs and a real service.
ui-test: install $(UI_DEPS)
	$(NODE_ENV) CI=1 $(JLPM) test:ui

# The same UI tests, writing the panel screenshots the README shows into docs/images.
screenshots: install $(UI_DEPS)
	$(NODE_ENV) CI=1 PAI_SCREENSHOT_DIR=$(CURDIR)/docs/images $(JLPM) test:ui

test: lint lint-ts tsc pytest ui-test

# wrk (Debian) drives the serving benchmarks: scripts/install-bench-deps.sh installs it.
bench: install
	scripts/install-bench-deps.sh
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .eas-prediction-venv build dist pai_jupyter/labextension labextension/lib node_modules labextension/node_modules ui-tests/node_modules
