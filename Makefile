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
# OpenMP threads that wait sleep instead of spinning (read once, when torch starts): keeps
# torch fast when other programs use the cores. Exported to every command below, and
# written into the Jupyter kernel's environment.
export OMP_WAIT_POLICY := PASSIVE
# Notebooks of the test run execute in parallel (pytest-xdist), one worker per core, one
# thread each. --dist loadfile keeps each file together on one worker: a notebook's cells
# share one kernel. (loadgroup would also do, but with pytest 9.2 it silently ignores groups.)
TEST_WORKERS ?= 2

.PHONY: env chromium book test test-registry execute install-cells student lab grade grading-key pdf bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 \
	    --env OMP_WAIT_POLICY PASSIVE >/dev/null
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
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# Explorer cells must not hide their output: the book shows their offline control.
# The checks that ask the package index (pip's resolution of the pins on every CPython 3.11-3.13
# the machine has; the Colab install cell in a simulated Colab on 3.12). Minutes each, so
# not part of `make test`.
test-registry: env
	SYMCOURSE_REGISTRY_TESTS=1 $(BIN)/python -m pytest tests/test_python_versions.py \
	    tests/test_colab_cell.py

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

# The chapters in JupyterLab, rendered in full: tools/lab_edition.py writes lab/ (the
# notebooks with glued numbers, citations and glossary terms rewritten into MyST that
# jupyterlab-myst renders), then JupyterLab opens it. Written only when missing, so work
# done in lab/ survives; `rm -rf lab` first to take in changed chapters.
lab: env
	test -d lab || $(BIN)/python tools/lab_edition.py --out lab
	$(BIN)/jupyter-lab lab/book

# Grade a folder of submitted notebooks (never modified): gradebook.csv, details.csv,
# report.md and report.html in $(GRADES). Each submission runs sandboxed (tools/grade.py).
SUBMISSIONS ?=
GRADES      ?= grades
grade: env
	$(if $(SUBMISSIONS),,$(error give the folder: make grade SUBMISSIONS=dir))
	$(BIN)/python tools/grade.py '$(SUBMISSIONS)' --out '$(GRADES)'

# Refresh grading/key.json (reference answers) from the full edition's solutions.
grading-key: env
	$(BIN)/python tools/grade.py --make-key

# The whole book as one PDF per edition, offline (Chromium): _build/pdf/{instructor,student}.pdf
pdf: env chromium
	$(BIN)/python tools/book_pdf.py --edition instructor
	$(BIN)/python tools/book_pdf.py --edition student

bench: env
	$(BIN)/python benchmarks/sweep_vs_loop.py

clean:
	rm -rf _build .jupyter_cache student lab grades
