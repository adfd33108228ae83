"""Give every chapter notebook the install cell that lets it run in Colab.

Usage: python tools/colab_cell.py --check [NOTEBOOK ...]
       python tools/colab_cell.py --fix [--repo-url URL] [--branch BRANCH] [--no-execute]
                                        [NOTEBOOK ...]

Without notebooks, every chapter: ``book/[0-9][0-9]_*.ipynb``.

Colab opens a chapter straight from the repository, in a kernel without ``symcourse``. So the
first code cell of every chapter is this install cell (the book hides it: tag
``remove-cell``). It does nothing where ``symcourse`` imports (a clone with ``make env``,
Binder) and prints nothing, so stored outputs do not change. Where it is missing, the cell
installs it from the repository named in the cell, but only in Colab (it never installs into
someone's own environment); everywhere else, or while the cell names no repository, it raises
an ImportError that gives the install commands.

The project does not invent its public address, so the committed cells name no repository.
Once it is published, ``make install-cells REPO_URL=... [REPO_BRANCH=...]`` (this tool with
``--fix --repo-url``) writes the address into every chapter; commit the result.

``--check`` reports every notebook whose first code cell is not the current install cell (or
whose chapters name different repositories) and exits with 1. ``--fix`` inserts or refreshes the
cell, keeps the repository a cell already names unless ``--repo-url`` is given, and re-executes
the notebooks it changed (``tools/execute_notebooks.py``) unless ``--no-execute``.
"""
from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
from launch_config import branch_name, repository_url  # noqa: E402

TAG = "remove-cell"
MARKER = "# Install cell (tools/colab_cell.py):"
_SETTINGS = "REPOSITORY, BRANCH = "
TEMPLATE = MARKER + """ in Colab it installs symcourse if missing;
# where symcourse is installed (a clone, Binder) it does nothing.
REPOSITORY, BRANCH = {repository}, {branch}
try:
    import symcourse
except ImportError:
    import importlib, subprocess, sys
    source = f"symcourse @ git+{{REPOSITORY or '<repository URL>'}}@{{BRANCH}}"
    # pinned packages Colab lacks; Colab's own torch, numpy, matplotlib are used
    extra = {extra}
    if not (REPOSITORY and "google.colab" in sys.modules):
        raise ImportError("symcourse is missing: `pip install -e .` in a clone of "
                          "the repository; in Colab `%pip install --no-deps "
                          f"'{{source}}' {{' '.join(extra)}}`") from None
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run(pip + ["--no-deps", source, *extra], check=True)
    subprocess.run(pip + {if_missing}, check=True)  # if missing
    importlib.invalidate_caches()
    import symcourse"""


#: What Colab's runtime already has (its own versions are used, not the pins): the cell
#: never installs these. Every other runtime pin of pyproject.toml, and myst-nb (the book
#: extra's pin; chapters import ``glue`` from it), is installed without dependencies.
COLAB_HAS = ("torch", "numpy", "matplotlib", "scipy", "requests", "ipywidgets", "ipython",
             "ipykernel", "pandas", "scikit-learn")
#: Imported by ``myst_nb.glue`` besides IPython; Colab has them, installed only if missing.
GLUE_NEEDS = ["docutils", "nbformat"]


def _pins(extra: str | None = None) -> dict[str, str]:
    """Name -> exact requirement (``name==version``) of pyproject.toml's runtime pins, or of
    one extra's."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = project["optional-dependencies"][extra] if extra else project["dependencies"]
    found = {}
    for requirement in requirements:
        if "==" in requirement:
            found[requirement.split("==")[0].strip().lower().replace("_", "-")] = requirement
    return found


def colab_extras() -> list[str]:
    """The pinned packages the install cell adds in Colab: runtime pins Colab lacks, and
    myst-nb."""
    lacking = [req for name, req in _pins().items() if name not in COLAB_HAS]
    return lacking + [_pins("book")["myst-nb"]]


def install_source(repository: str = "", branch: str = "main") -> str:
    """The install cell's source for ``repository`` (``""``: none named yet) and ``branch``."""
    repository = repository_url(repository) if repository else ""
    return TEMPLATE.format(repository=json.dumps(repository), branch=json.dumps(branch_name(branch)),
                           extra=json.dumps(colab_extras()), if_missing=json.dumps(GLUE_NEEDS))


def chapter_notebooks(root: Path = REPO) -> list[Path]:
    """Every chapter notebook of the book under ``root``: ``book/[0-9][0-9]_*.ipynb``."""
    return sorted(root.glob("book/[0-9][0-9]_*.ipynb"))


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _is_install_cell(cell) -> bool:
    return cell.cell_type == "code" and cell.source.startswith(MARKER)


def _settings(cell) -> tuple[str, str] | None:
    """The ``(repository, branch)`` an install cell names, or None if it cannot be read."""
    for line in cell.source.splitlines():
        if line.startswith(_SETTINGS):
            try:
                value = ast.literal_eval(line[len(_SETTINGS):])
            except (ValueError, SyntaxError):
                return None
            if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) for v in value):
                return value
    return None


def _first_code_cell(nb) -> int | None:
    return next((i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"), None)


def installs_from(nb) -> tuple[str, str] | None:
    """``(repository, branch)`` named by the notebook's install cell, if its first code cell
    is one (``repository`` is ``""`` while none is named); None otherwise."""
    first = _first_code_cell(nb)
    if first is None or not _is_install_cell(nb.cells[first]):
        return None
    return _settings(nb.cells[first])


def problems(nb) -> list[str]:
    """What is wrong with a notebook's install cell (empty when it is right)."""
    first = _first_code_cell(nb)
    if first is None:
        return ["has no code cell, so no install cell"]
    found = []
    cell = nb.cells[first]
    if not _is_install_cell(cell):
        found.append("its first code cell is not the install cell")
    else:
        settings = _settings(cell)
        try:
            expected = install_source(*settings) if settings else None
        except ValueError:
            expected = None
        if cell.source != expected:
            found.append("its install cell differs from the template of tools/colab_cell.py")
        if TAG not in cell.metadata.get("tags", []):
            found.append(f"its install cell lacks the {TAG!r} tag (the book would show it)")
    extra = sum(_is_install_cell(c) for c in nb.cells[first + 1:])
    if extra:
        found.append(f"it has {extra} more install cell(s) after the first code cell")
    return found


def fix(nb, repository: str | None = None, branch: str | None = None) -> bool:
    """Make the notebook's first code cell the install cell; return whether anything changed.

    The cell keeps the repository and branch that an install cell of the notebook already
    names unless ``repository`` or ``branch`` is given (otherwise none, and ``main``). Other
    install cells are removed. A new or changed cell is left unexecuted: run the notebook
    again (``--fix`` does).
    """
    if _first_code_cell(nb) is None:
        raise ValueError("the notebook has no code cell; add the chapter's imports first")
    existing = [c for c in nb.cells if _is_install_cell(c)]
    old = (_settings(existing[0]) if existing else None) or ("", "main")
    source = install_source(old[0] if repository is None else repository,
                            old[1] if branch is None else branch)
    before = len(nb.cells)
    first = nb.cells[_first_code_cell(nb)]
    nb.cells = [c for c in nb.cells if c is first or not _is_install_cell(c)]
    changed = len(nb.cells) != before
    if not _is_install_cell(first):
        nb.cells.insert(_first_code_cell(nb),
                        nbformat.v4.new_code_cell(source, metadata={"tags": [TAG]}))
        return True
    if first.source != source:
        first.source, first.outputs, first.execution_count = source, [], None
        changed = True
    tags = first.metadata.setdefault("tags", [])
    if TAG not in tags:
        tags.append(TAG)
        changed = True
    return changed


def disagreements(notebooks: dict[Path, nbformat.NotebookNode]) -> list[str]:
    """A problem when the chapters' install cells name different repositories or branches."""
    named = {path: installs_from(nb) for path, nb in notebooks.items()}
    if len({settings for settings in named.values() if settings}) <= 1:
        return []
    return ["the install cells name different repositories: " + "; ".join(
        f"{path.name}: {settings[0] or 'none'} ({settings[1]})"
        for path, settings in named.items() if settings)]


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="report, change nothing")
    action.add_argument("--fix", action="store_true", help="insert or refresh the cell")
    parser.add_argument("--repo-url", help="with --fix: the repository the cell installs from")
    parser.add_argument("--branch", help="with --fix: its branch (default: keep, or main)")
    parser.add_argument("--no-execute", action="store_true",
                        help="with --fix: do not re-execute the notebooks that changed")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="default: every chapter, book/[0-9][0-9]_*.ipynb")
    args = parser.parse_args(argv)
    if args.check and (args.repo_url or args.branch or args.no_execute):
        parser.error("--repo-url, --branch and --no-execute go with --fix")
    paths = args.notebooks or chapter_notebooks()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing or not paths:
        print(f"error: no such notebook: {', '.join(missing) or 'no chapters found'}",
              file=sys.stderr)
        return 2
    notebooks = {path: read(path) for path in paths}

    if args.check:
        found = [f"{_shown(path)}: {problem}" for path, nb in notebooks.items()
                 for problem in problems(nb)] + disagreements(notebooks)
        for line in found:
            print(line, file=sys.stderr)
        if found:
            print("To fix: python tools/colab_cell.py --fix NOTEBOOK ... (or make install-cells)",
                  file=sys.stderr)
        return 1 if found else 0

    try:
        changed = [path for path, nb in notebooks.items() if fix(nb, args.repo_url, args.branch)]
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in changed:
        nbformat.write(notebooks[path], path)
        print(f"{_shown(path)}: install cell written")
    if not changed:
        print("every install cell is up to date")
    if changed and not args.no_execute:
        return subprocess.run([sys.executable, str(REPO / "tools" / "execute_notebooks.py"),
                               *map(str, changed)]).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
