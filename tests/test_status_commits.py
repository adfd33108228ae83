"""The status page is truthful: every chapter names the commit it was executed at (one that
exists in the history), and none was executed on a tree with other uncommitted changes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import execute_notebooks  # noqa: E402
import student_edition  # noqa: E402

NOTEBOOKS = student_edition.toc_notebooks(REPO)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_chapter_names_a_clean_commit_of_this_history(path):
    executed = json.loads(path.read_text(encoding="utf-8"))["metadata"]["symcourse"]["executed"]
    commit = executed.get("commit")
    assert commit, f"{path.name}: no commit recorded; run tools/execute_notebooks.py"
    assert not commit.endswith("-dirty"), (
        f"{path.name} was executed at {commit}: other files had uncommitted changes; "
        "commit them and re-execute the chapter")
    known = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=REPO,
                           capture_output=True)
    if known.returncode and not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    assert known.returncode == 0, f"{path.name}: commit {commit} is not in this repository"


def test_only_the_executed_notebooks_may_differ(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)
    git("init", "-q")
    (tmp_path / "a.ipynb").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    clean = execute_notebooks.git_commit(tmp_path)
    assert clean and not clean.endswith("-dirty")
    (tmp_path / "a.ipynb").write_text('{"outputs": 1}')
    assert execute_notebooks.git_commit(tmp_path, [tmp_path / "a.ipynb"]) == clean
    assert execute_notebooks.git_commit(tmp_path) == f"{clean}-dirty"
    (tmp_path / "code.py").write_text("x = 2\n")
    assert execute_notebooks.git_commit(tmp_path, [tmp_path / "a.ipynb"]) == f"{clean}-dirty"
