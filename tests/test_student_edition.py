"""The student edition (tools/student_edition.py): solutions gone, stubs in place, book builds."""
from __future__ import annotations

import ast
import json
from html import unescape
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import student_edition as se  # noqa: E402

from symcourse import exercises  # noqa: E402

NOTEBOOKS = se.toc_notebooks(REPO)


def _md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text, tags=()):
    return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": text,
            "execution_count": 1, "outputs": []}


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _src(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


# --- the transformation, on small hand-made notebooks -------------------------------------

def test_solution_blocks_are_removed_with_any_fence():
    text = ("Before.\n\n````{solution} ex-a\n:class: dropdown\n\nSecret 1.\n````\n\nMiddle.\n\n"
            ":::{solution} ex-b\nSecret 2.\n:::\nAfter.\n")
    out = se.strip_solution_blocks(text)
    assert "Secret" not in out and "solution" not in out
    assert all(word in out for word in ("Before.", "Middle.", "After."))


def test_unclosed_solution_block_is_an_error():
    with pytest.raises(ValueError, match="never closed"):
        se.strip_solution_blocks("```{solution} ex-a\nSecret\n")


def test_gated_solution_becomes_a_stub_and_keeps_the_next_exercise():
    nb = {"cells": [
        _md("```{exercise} One\n:label: ex-one\n\nDo it.\n```"),
        _md("```{solution-start} ex-one\n:class: dropdown\n```\n\nSecret prose."),
        _code("secret_value = 41 + 1\ncheck('stall-plateau', secret_value)", tags=["solution"]),
        _md("More secret prose.\n\n```{solution-end}\n```\n\n```{exercise} Two\n:label: ex-two\n```"),
        _code("print('kept')"),
    ], "metadata": {}}
    student = se.student_notebook(nb)
    text = _all_text(student)
    assert "Secret" not in text and "secret" not in text and "solution-" not in text
    assert "ex-one" in text and "ex-two" in text and "print('kept')" in text
    stub = student["cells"][1]
    assert stub["metadata"]["tags"] == [se.STUB_TAG] and stub["execution_count"] is None
    assert 'check("stall-plateau", answer)' in _src(stub) and "answer = ..." in _src(stub)


def test_unmatched_solution_start_is_an_error():
    nb = {"cells": [_md("```{solution-start} ex-one\n```\nSecret")], "metadata": {}}
    with pytest.raises(ValueError, match="solution-end"):
        se.student_notebook(nb)


def test_edition_refuses_to_overwrite_the_repository():
    with pytest.raises(ValueError, match="other than the repository"):
        se.write_edition(REPO)


# --- the real chapters ----------------------------------------------------------------------

def _all_text(nb) -> str:
    """Every cell's source and every stored text output, as a reader of the notebook sees them."""
    parts = []
    for cell in nb["cells"]:
        parts.append(_src(cell))
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def _labels(nb) -> list[str]:
    text = "\n".join(_src(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    return re.findall(r"\{exercise\}[^\n]*\n:label: (\S+)", text)


def _solution_lines(nb) -> list[str]:
    """Distinctive lines of every solution: code of solution cells and prose of solution blocks."""
    lines = []
    shared_code = {ln.strip() for cell in nb["cells"] if cell["cell_type"] == "code"
                   and se.SOLUTION_TAG not in (cell.get("metadata", {}).get("tags") or [])
                   for ln in _src(cell).splitlines()}  # lines the chapter itself also runs
    for cell in nb["cells"]:
        if se.SOLUTION_TAG in (cell.get("metadata", {}).get("tags") or []):
            lines += [ln.strip() for ln in _src(cell).splitlines() if len(ln.strip()) >= 12
                      and "check(" not in ln and ln.strip() not in shared_code]
        elif cell["cell_type"] == "markdown":
            kept, _ = se._strip_markdown(_src(cell), False)
            lines += [ln.strip() for ln in _src(cell).splitlines()
                      if len(ln.strip()) >= 30 and ln.strip() not in kept]
    return lines


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    return out, {p.name: _load(p) for p in se.write_edition(out)}


def test_every_chapter_has_a_student_notebook(edition):
    _, students = edition
    assert NOTEBOOKS and sorted(students) == sorted(p.name for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_survives_and_no_solution_does(path, edition):
    full, student = _load(path), edition[1][path.name]
    assert _labels(full) and _labels(student) == _labels(full)
    text = _all_text(student)
    assert "{solution" not in text
    distinctive = _solution_lines(full)
    assert distinctive and all(line in _all_text(full) for line in distinctive)
    leaked = [line for line in _solution_lines(full) if line in text]
    assert not leaked, f"solution text left in the student notebook: {leaked[:3]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_solution_passes_its_self_check_and_every_stub_is_unsolved(path, edition):
    full, student = _load(path), edition[1][path.name]
    solutions = [c for c in full["cells"] if se.SOLUTION_TAG in (c["metadata"].get("tags") or [])]
    stubs = [c for c in student["cells"] if se.STUB_TAG in (c["metadata"].get("tags") or [])]
    assert solutions and len(stubs) == len(solutions)
    for solution, stub in zip(solutions, stubs):
        ids = se._CHECK_CALL.findall(_src(solution))
        assert ids == se._CHECK_CALL.findall(_src(stub))
        stored = "".join(
            "".join(o.get("data", {}).get("text/plain", "")) + "".join(o.get("text", ""))
            for o in solution["outputs"])
        for exercise in ids:
            assert f"[{exercise}] ✓ correct" in stored, f"{exercise}: stored solution output is not 'correct'"
            assert exercises.check(exercise, ...).status == "unsolved"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_later_cell_needs_a_name_only_a_solution_defines(path):
    """So a student notebook with stubs runs top to bottom without NameError."""
    defined_by_solution, defined_elsewhere = set(), set()
    for cell in _load(path)["cells"]:
        if cell["cell_type"] != "code" or not _src(cell).strip():
            continue
        tree = ast.parse(_src(cell))
        stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        stored |= {a.asname or a.name.split(".")[0] for n in ast.walk(tree)
                   if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
        if se.SOLUTION_TAG in (cell["metadata"].get("tags") or []):
            defined_by_solution |= stored - defined_elsewhere
            continue
        loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        missing = (loaded & defined_by_solution) - stored
        assert not missing, f"a non-solution cell uses {sorted(missing)}, defined only in a solution"
        defined_elsewhere |= stored


def test_student_book_builds_strictly_without_solutions(edition):
    out, _ = edition
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    build = subprocess.run([str(jupyter_book), "build", str(out), "--warningiserror", "--nitpick",
                            "--keep-going"], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    for path in NOTEBOOKS:
        page = (out / "_build" / "html" / path.relative_to(REPO).with_suffix(".html")).read_text(encoding="utf-8")
        assert "Solution to" not in page
        html = unescape(re.sub(r"<[^>]+>", "", page))  # the text a reader sees, code included
        leaked = [line for line in _solution_lines(_load(path)) if line in html]
        assert not leaked, f"solution text left in the student HTML: {leaked[:3]}"
