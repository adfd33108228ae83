"""The install cell every chapter starts with (tools/colab_cell.py).

The repository URL below is a made-up example; the project itself names no repository.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from bookbuild import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import colab_cell as cc  # noqa: E402
import launch_config as lc  # noqa: E402

import symcourse  # noqa: E402

EXAMPLE = "https://github.com/example-org/example-course"
CHAPTERS = cc.chapter_notebooks(ROOT)


def test_the_chapters_are_found():
    assert CHAPTERS and all(p.name[:2].isdigit() and p.suffix == ".ipynb" for p in CHAPTERS)
    assert {p.name for p in CHAPTERS} >= {"01_stall.ipynb", "03_symmetry.ipynb"}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_starts_with_the_install_cell(path):
    nb = cc.read(path)
    assert cc.problems(nb) == [], f"run: python tools/colab_cell.py --fix {path.relative_to(ROOT)}"
    cell = next(c for c in nb.cells if c.cell_type == "code")
    assert cell.source == cc.install_source(*cc.installs_from(nb))
    # stored from a real run, and silent: nbval compares these outputs too
    assert cell.execution_count is not None and cell.outputs == []


def test_the_chapters_name_one_repository():
    notebooks = {path: cc.read(path) for path in CHAPTERS}
    assert cc.disagreements(notebooks) == []


# --- what the cell does -----------------------------------------------------------------------

def run_cell(source: str) -> tuple[dict, str]:
    """Run a cell's source in a fresh namespace; return it and everything it printed."""
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        exec(compile(source, "<install cell>", "exec"), namespace)
    return namespace, printed.getvalue()


@pytest.fixture
def pip_calls(monkeypatch):
    """Record every subprocess.run the cell makes; the first one 'installs' symcourse."""
    calls = []

    def fake_run(command, **kwargs):
        calls.append((command, kwargs))
        sys.modules["symcourse"] = symcourse  # as if pip had installed it
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    return calls


@pytest.mark.parametrize("repository", ["", EXAMPLE])
def test_where_symcourse_is_installed_the_cell_does_nothing(pip_calls, repository):
    namespace, printed = run_cell(cc.install_source(repository))
    assert printed == "" and pip_calls == []
    assert namespace["symcourse"] is symcourse


def test_the_chapters_own_cell_does_nothing_here(pip_calls):
    source = next(c for c in cc.read(CHAPTERS[0]).cells if c.cell_type == "code").source
    namespace, printed = run_cell(source)
    assert printed == "" and pip_calls == [] and namespace["symcourse"] is symcourse


@pytest.mark.parametrize("repository, colab", [("", False), ("", True), (EXAMPLE, False)])
def test_without_symcourse_it_says_how_to_install(monkeypatch, pip_calls, repository, colab):
    monkeypatch.setitem(sys.modules, "symcourse", None)  # import symcourse now fails
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    with pytest.raises(ImportError, match="symcourse is missing") as error:
        run_cell(cc.install_source(repository))
    message = str(error.value)
    assert "pip install -e ." in message
    assert (f"%pip install --no-deps 'symcourse @ git+{repository or '<repository URL>'}@main' "
            + " ".join(cc.colab_extras())) in message
    assert pip_calls == []  # never installs outside Colab, or without a repository


def test_in_colab_it_installs_from_the_named_repository(monkeypatch, pip_calls):
    monkeypatch.setitem(sys.modules, "symcourse", None)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    namespace, printed = run_cell(cc.install_source(EXAMPLE, "course-2026"))
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    assert [command for command, _ in pip_calls] == [
        pip + ["--no-deps", f"symcourse @ git+{EXAMPLE}@course-2026", *cc.colab_extras()],
        pip + cc.GLUE_NEEDS]
    assert all(kwargs == {"check": True} for _, kwargs in pip_calls)
    assert namespace["symcourse"] is symcourse and printed == ""


# --- check and fix ------------------------------------------------------------------------------

def notebook(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter")] + list(cells)
    return nb


def code(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source, execution_count=1)


def test_fix_inserts_the_cell_before_the_first_code_cell():
    nb = notebook(code("import symcourse"), code("print(1)"))
    assert cc.problems(nb) == ["its first code cell is not the install cell"]
    assert cc.installs_from(nb) is None
    assert cc.fix(nb) is True
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code", "code"]
    cell = nb.cells[1]
    assert cell.source == cc.install_source() and cell.metadata["tags"] == [cc.TAG]
    assert cell.execution_count is None and cell.outputs == [] and cell.get("id")
    assert cc.problems(nb) == [] and cc.installs_from(nb) == ("", "main")
    assert cc.fix(nb) is False  # nothing left to do


def test_fix_names_the_repository_and_keeps_it():
    nb = notebook(code("import symcourse"))
    cc.fix(nb, EXAMPLE + ".git", "dev")
    assert cc.installs_from(nb) == (EXAMPLE, "dev")
    nb.cells[1].execution_count = 3
    assert cc.fix(nb) is False and nb.cells[1].execution_count == 3
    assert cc.fix(nb, branch="main") is True and cc.installs_from(nb) == (EXAMPLE, "main")
    assert nb.cells[1].execution_count is None  # changed, so it must run again
    with pytest.raises(ValueError, match="repository URL"):
        cc.fix(nb, "https://example.org")
    with pytest.raises(ValueError, match="branch"):
        cc.fix(nb, branch="a b")


def test_check_finds_an_edited_untagged_or_repeated_cell_and_fix_repairs_it():
    nb = notebook(code("import symcourse"))
    cc.fix(nb, EXAMPLE)
    nb.cells[1].source += "\nprint('hello')"
    nb.cells[1].metadata["tags"] = []
    nb.cells.append(nbformat.v4.new_code_cell(cc.install_source()))
    assert cc.problems(nb) == [
        "its install cell differs from the template of tools/colab_cell.py",
        f"its install cell lacks the {cc.TAG!r} tag (the book would show it)",
        "it has 1 more install cell(s) after the first code cell"]
    assert cc.fix(nb) is True and cc.problems(nb) == []
    assert cc.installs_from(nb) == (EXAMPLE, "main") and len(nb.cells) == 3


def test_a_notebook_without_code_cannot_be_fixed():
    nb = notebook()
    assert cc.problems(nb) == ["has no code cell, so no install cell"]
    with pytest.raises(ValueError, match="no code cell"):
        cc.fix(nb)


def test_disagreeing_chapters_are_reported():
    one, two = notebook(code("x = 1")), notebook(code("x = 1"))
    cc.fix(one, EXAMPLE)
    cc.fix(two)
    found = cc.disagreements({Path("01_a.ipynb"): one, Path("02_b.ipynb"): two})
    assert len(found) == 1 and "01_a.ipynb" in found[0] and "02_b.ipynb: none" in found[0]


def test_command_line_check_and_fix(tmp_path, capsys):
    path = tmp_path / "05_new.ipynb"
    nbformat.write(notebook(code("import symcourse\nprint('ready')")), path)
    assert cc.main(["--check", str(path)]) == 1
    assert "first code cell is not the install cell" in capsys.readouterr().err
    assert cc.main(["--fix", "--no-execute", "--repo-url", "ftp://x/y/z", str(path)]) == 2
    assert cc.main(["--fix", "--no-execute", str(path)]) == 0
    assert cc.main(["--check", str(path)]) == 0
    assert cc.main(["--check", str(tmp_path / "missing.ipynb")]) == 2
    with pytest.raises(SystemExit):
        cc.main(["--check", "--repo-url", EXAMPLE, str(path)])


def test_fix_executes_the_notebooks_it_changed(tmp_path):
    path = tmp_path / "05_new.ipynb"
    nb = notebook(code("import symcourse\nprint('ready')"))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    assert cc.main(["--fix", str(path)]) == 0
    cells = [c for c in cc.read(path).cells if c.cell_type == "code"]
    assert cc.problems(cc.read(path)) == []
    assert cells[0].execution_count == 1 and cells[0].outputs == []  # ran, printed nothing
    assert cells[1].outputs[0]["text"] == "ready\n"


# --- the launch tool reports chapters that would not install in Colab ---------------------------

def test_launch_config_lists_chapters_that_name_another_repository(tmp_path):
    (tmp_path / "book").mkdir()
    named, unnamed = notebook(code("x = 1")), notebook(code("x = 1"))
    cc.fix(named, EXAMPLE)
    cc.fix(unnamed)
    nbformat.write(named, tmp_path / "book" / "01_named.ipynb")
    nbformat.write(unnamed, tmp_path / "book" / "02_unnamed.ipynb")
    nbformat.write(notebook(code("x = 1")), tmp_path / "book" / "03_bare.ipynb")
    assert lc.install_cell_mismatches(EXAMPLE, "main", tmp_path) == [
        "book/02_unnamed.ipynb installs from no repository (main)",
        "book/03_bare.ipynb has no install cell"]
    assert len(lc.install_cell_mismatches(EXAMPLE, "dev", tmp_path)) == 3


# --- Colab, simulated on Python 3.12 --------------------------------------------------------------

def test_the_cell_installs_only_what_colab_lacks():
    extras = cc.colab_extras()
    names = {req.split("==")[0] for req in extras}
    assert all("==" in req for req in extras), extras  # pinned, like pyproject.toml
    assert {"mnist1d", "myst-nb"} <= names, extras  # three chapters import mnist1d
    assert not names & set(cc.COLAB_HAS), f"Colab has these already: {names & set(cc.COLAB_HAS)}"


#: Colab's own packages, stood in by the project's pins; torch (a multi-GB download for 3.12)
#: is left out, so the cell's last line, ``import symcourse``, must fail on torch alone.
COLAB_STAND_INS = ("numpy", "matplotlib", "scipy", "requests", "ipywidgets")
#: Colab's pip is a 24.x release (older pips reject a ``git+file:///`` requirement).
COLAB_PIP = "pip==24.2"
SIMULATION = """
import importlib.metadata as md, json, subprocess, sys
import google.colab  # the stand-in: the cell sees it in sys.modules
before = {d.metadata["Name"].lower(): d.version for d in md.distributions()}
try:
    exec(compile(open(sys.argv[1]).read(), "<install cell>", "exec"), {})
    failed = None
except ModuleNotFoundError as error:
    failed = error.name
import mnist1d
from myst_nb import glue
glue("answer", 42)  # prints 42 outside a notebook
after = {d.metadata["Name"].lower(): d.version for d in md.distributions()}
print(json.dumps({"failed": failed, "before": before, "after": after,
                  "version": "%d.%d" % sys.version_info[:2]}))
"""


def _snapshot_repository(where: Path) -> str:
    """A git repository holding this working tree's tracked files; its ``file://`` URL."""
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            (where / name).write_bytes((ROOT / name).read_bytes())
    git = ["git", "-C", str(where), "-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run(["git", "init", "--quiet", "-b", "main", str(where)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "--quiet", "-m", "snapshot"], check=True)
    return where.as_uri()


@pytest.mark.skipif(not os.environ.get("SYMCOURSE_REGISTRY_TESTS"),
                    reason="installs Colab stand-ins from the package index: `make test-registry`")
def test_in_a_simulated_colab_on_python_312_the_cell_installs_symcourse(tmp_path):
    from test_python_versions import find_python

    python = find_python("3.12")
    if python is None:
        pytest.skip("this machine has no CPython 3.12 for the Colab simulation")
    venv = tmp_path / "colab"
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
           "--disable-pip-version-check"]
    pins = cc._pins()
    subprocess.run(pip + [COLAB_PIP], check=True, timeout=900)
    subprocess.run(pip + [pins[name] for name in COLAB_STAND_INS], check=True, timeout=900)
    url = _snapshot_repository(tmp_path / "repository")
    cell = cc.install_source(EXAMPLE).replace(json.dumps(EXAMPLE), json.dumps(url))
    (tmp_path / "cell.py").write_text(cell, encoding="utf-8")
    stand_in = tmp_path / "stand-in" / "google" / "colab"
    stand_in.mkdir(parents=True)
    (stand_in / "__init__.py").write_text('"""Stands in for Colab\'s module."""\n')
    (stand_in.parent / "__init__.py").write_text("")
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-c", SIMULATION, str(tmp_path / "cell.py")],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,  # not this clone
        env={**os.environ, "PYTHONPATH": str(tmp_path / "stand-in")})
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["version"] == "3.12"
    assert "42" in run.stdout  # glue displayed its value
    assert result["failed"] == "torch", f"the cell's import symcourse failed on {result['failed']}"
    added = {name: version for name, version in result["after"].items()
             if name not in result["before"]}
    for requirement in cc.colab_extras() + ["symcourse==0.1.0"]:
        name, version = requirement.split("==")
        assert added.get(name) == version, f"{name}: installed {added.get(name)}, pinned {version}"
    changed = {name: (version, result["after"].get(name)) for name, version
               in result["before"].items() if result["after"].get(name) != version}
    assert not changed, f"the cell changed Colab's own packages: {changed}"
    assert "torch" not in added and not {n for n in added if n.startswith("nvidia")}


# --- explorer cells (tools/explorer_cells.py) ---------------------------------------------------

def test_explorer_cells_tool_finds_and_unhides_explorer_cells(tmp_path):
    import explorer_cells as ec

    nb = notebook(code("x = 1"), code("# a comment\nwidgets.StallExplorer(seed=3)"),
                  code("StallExplorer"))
    nb.cells[2].metadata["tags"] = ["nbval-ignore-output", ec.HIDDEN]
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    assert [c.source for c in ec.explorer_cells(nb)] == [nb.cells[2].source]
    assert ec.main(["--check", str(path)]) == 1
    assert ec.main(["--fix", str(path)]) == 0 and ec.main(["--check", str(path)]) == 0
    assert cc.read(path).cells[2].metadata["tags"] == ["nbval-ignore-output"]
