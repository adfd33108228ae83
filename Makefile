# Two entry points a newcomer needs: `make book` and `make test`. Both create the
# virtual environment on first use (Python 3.11 + pip are the only prerequisites).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Launch buttons (Binder, Colab): `make book REPO_URL=https://github.com/ORG/REPO` builds the
# book with them (tools/launch_config.py writes the configuration under _build/, never
# committed). Unset, the book has none.
REPO_URL    ?=
REPO_BRANCH ?= main
LAUNCH_CONFIG := _build/launch/_config.yml

.PHONY: env chromium book test execute install-cells student bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

env: $(STAMP)

book: env
	$(if $(REPO_URL),$(BIN)/python tools/launch_config.py --url '$(REPO_URL)' \
	    --branch '$(REPO_BRANCH)' --out $(LAUNCH_CONFIG))
	$(BIN)/jupyter-book build . $(if $(REPO_URL),--config $(LAUNCH_CONFIG)) \
	    --warningiserror --nitpick --keep-going
	@echo "Book built: open $(CURDIR)/_build/html/index.html"

# tests/test_browser.py opens every built page in Debian's Chromium (driven by Playwright,
# which never downloads a browser here). Installed when missing: needs root on Debian/Ubuntu.
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

test: env chromium
	$(BIN)/python -m pytest

# Explorer cells must not hide their output: the book shows their offline control.
execute: env
	$(BIN)/python tools/explorer_cells.py --fix
	$(BIN)/python tools/execute_notebooks.py book/*.ipynb

# Every chapter's first code cell installs symcourse in Colab (tools/colab_cell.py). This
# adds it to new chapters; with REPO_URL it also names the repository (commit the result).
install-cells: env
	$(BIN)/python tools/colab_cell.py --fix $(if $(REPO_URL),--repo-url '$(REPO_URL)' \
	    --branch '$(REPO_BRANCH)')

student: env
	$(BIN)/python tools/student_edition.py --out student

bench: env
	$(BIN)/python benchmarks/sweep_vs_loop.py

clean:
	rm -rf _build .jupyter_cache student
