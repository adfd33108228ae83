"""Grading submitted notebooks (tools/grade.py, grading/): verdicts, reasons, the gradebook, and
the hostile submissions: crash, endless loop, file deletion, invalid JSON, memory hog."""
from __future__ import annotations

import csv
import hashlib
import json
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tools"), str(REPO)]
import grade  # noqa: E402
import student_edition  # noqa: E402

from grading import record, rules  # noqa: E402
from grading.sandbox import Limits, namespaces_available, read_submission  # noqa: E402

CHAPTER = "03_symmetry"
IMPORT = "import torch\nfrom symcourse.exercises import check\n"
LIMITS = Limits(cell_seconds=25, total_seconds=240, memory_bytes=int(2.5 * 2**30))


def _notebook(*sources: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nbformat.writes(nb)


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- rules, on recorded data ------------------------------------------------------------

def test_numbers_compare_with_tolerance_and_whole_numbers_exactly():
    assert rules.compare("x", {"kind": "float", "value": 0.50001}, {"kind": "float", "value": 0.5})[0]
    ok, why = rules.compare("x", {"kind": "float", "value": 0.6}, {"kind": "float", "value": 0.5})
    assert not ok and "0.6" in why
    assert not rules.compare("x", {"kind": "int", "value": 48}, {"kind": "int", "value": 49})[0]
    array = {"kind": "array", "shape": [2], "value": [-1.0, 2.0]}
    assert rules.compare("x", array, array)[0]
    ok, why = rules.compare("x", {"kind": "array", "shape": [3], "value": [1, 2, 3]}, array)
    assert not ok and "shape" in why
    assert rules.compare("x", {"kind": "str", "value": " Over Damped"},
                         {"kind": "str", "value": "over damped"})[0]


def test_unordered_pairs_and_probes():
    pairs = lambda *ps: {"kind": "list", "value": [  # noqa: E731
        {"kind": "list", "value": [{"kind": "int", "value": i} for i in p]} for p in ps]}
    assert rules.compare("comego-kinks", pairs((3, 0), (1, 4)), pairs((0, 3), (1, 4)))[0]
    probe = {"kind": "probe", "value": {"kind": "array", "shape": [1], "value": [1.0]}}
    assert rules.compare("using-rescale-neuron", probe, probe)[0]
    ok, why = rules.compare("using-rescale-neuron", {"kind": "int", "value": 1}, probe)
    assert not ok and "function" in why


def test_invalid_files_are_named_with_the_reason(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [', encoding="utf-8")
    assert "not valid JSON" in read_submission(broken)
    other = tmp_path / "other.ipynb"
    other.write_text('{"hello": 1}', encoding="utf-8")
    assert "not a valid notebook" in read_submission(other)


def test_key_covers_every_graded_exercise_of_the_book():
    key = rules.load_key()
    ids = {e["id"] for exercises in grade.graded_exercises().values() for e in exercises}
    missing = sorted(ids - set(key))
    assert not missing, f"no reference answer for {missing}: run `make grading-key`"


def test_grading_material_is_not_shipped_to_students(tmp_path):
    student_edition.write_edition(tmp_path / "student")
    shipped = {p.relative_to(tmp_path / "student").as_posix()
               for p in (tmp_path / "student").rglob("*")}
    assert not any(p.startswith("grading") or p.endswith("key.json") for p in shipped)
    import tomllib
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert packages["packages"]["find"]["include"] == ["symcourse", "symcourse.*"], \
        "the installed package must stay symcourse only (no grading key)"


# --- a class with good, partial and hostile submissions -----------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("grades")
    good = (IMPORT + 'check("symmetry-scale-factor", 9.0)',
            'check("symmetry-rescale-hessian", torch.tensor([-1.0, 2.0]))',
            'check("symmetry-count-layernorm", 24)')
    # Without namespaces the deletions would succeed: then only a decoy folder is targeted.
    decoy = tmp_path_factory.mktemp("decoy")
    targets = [str(REPO / "grading"), str(root), str(out)] if namespaces_available() \
        else [str(decoy)]
    files = {
        f"ada_{CHAPTER}.ipynb": _notebook(*good),
        f"bob_{CHAPTER}.ipynb": _notebook(IMPORT + 'check("symmetry-scale-factor", 2.0)',
                                          "answer = ...\ncheck(\"symmetry-count-layernorm\", answer)",
                                          'undefined_name + 1\ncheck("symmetry-rescale-hessian", h)'),
        f"crash_{CHAPTER}.ipynb": _notebook(IMPORT + 'check("symmetry-scale-factor", 9.0)',
                                            "import os\nos._exit(3)", good[2]),
        f"loop_{CHAPTER}.ipynb": _notebook(IMPORT + 'check("symmetry-scale-factor", 9.0)',
                                           "while True:\n    pass", good[2]),
        f"vandal_{CHAPTER}.ipynb": _notebook(
            "import os, shutil\n"
            f"for target in {targets!r}:\n"
            "    shutil.rmtree(target, ignore_errors=True)\n"
            "shutil.rmtree(os.getcwd(), ignore_errors=True)", *good),
        f"hog_{CHAPTER}.ipynb": _notebook(IMPORT + 'check("symmetry-scale-factor", 9.0)',
                                          "hog = []\nwhile True:\n"
                                          "    hog.append(bytearray(200 * 2**20))", good[2]),
        f"garbled_{CHAPTER}.ipynb": _notebook(*good)[:-40],
    }
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    before, key_before = _tree_digest(root), _tree_digest(REPO / "grading")
    result = grade.grade(root, out, None, 2, LIMITS)
    rows = {row["student"]: row for row in result["rows"]}
    return {"rows": rows, "out": out, "root": root, "before": before,
            "key_before": key_before, "result": result}


def _verdict(graded, student, exercise):
    return graded["rows"][student]["verdicts"][exercise]


def test_good_and_partial_submissions(graded):
    for exercise in ("symmetry-scale-factor", "symmetry-rescale-hessian", "symmetry-count-layernorm"):
        assert _verdict(graded, "ada", exercise)[0] == rules.SOLVED, _verdict(graded, "ada", exercise)
    assert _verdict(graded, "ada", "symmetry-weight-decay") == (
        rules.NOT_ATTEMPTED, 'no cell calls check("symmetry-weight-decay", ...)')
    status, why = _verdict(graded, "bob", "symmetry-scale-factor")
    assert status == rules.NOT_SOLVED and "2.0" in why
    assert _verdict(graded, "bob", "symmetry-count-layernorm")[0] == rules.NOT_ATTEMPTED
    status, why = _verdict(graded, "bob", "symmetry-rescale-hessian")
    assert status == rules.COULD_NOT_RUN and "NameError" in why


def test_crash_and_loop_keep_what_ran_before(graded):
    for student, words in (("crash", "kernel died"), ("loop", "limit")):
        assert _verdict(graded, student, "symmetry-scale-factor")[0] == rules.SOLVED, student
        status, why = _verdict(graded, student, "symmetry-count-layernorm")
        assert status == rules.COULD_NOT_RUN and words in why, (student, status, why)


def test_memory_hog_is_stopped_by_the_limit_and_the_rest_graded(graded):
    run = graded["rows"]["hog"]["run"]
    assert "MemoryError" in run.errors.get(1, "") or run.status == "died", (run.status, run.errors)
    assert _verdict(graded, "hog", "symmetry-scale-factor")[0] == rules.SOLVED
    if run.status == "ran":  # the hog's cell failed alone; the next exercise still ran
        assert _verdict(graded, "hog", "symmetry-count-layernorm")[0] == rules.SOLVED
    report = (graded["out"] / "report.md").read_text(encoding="utf-8")
    assert "MemoryError" in report, "the report says what happened to the hog"


def test_invalid_json_is_reported_and_the_rest_graded(graded):
    status, why = _verdict(graded, "garbled", "symmetry-scale-factor")
    assert status == rules.COULD_NOT_RUN and "not valid JSON" in why
    assert len(graded["rows"]) == 7


@pytest.mark.skipif(not namespaces_available(), reason="needs Linux user namespaces")
def test_deleting_files_touches_nothing_outside_the_own_copy(graded):
    assert _tree_digest(graded["root"]) == graded["before"], "the submissions folder changed"
    assert _tree_digest(REPO / "grading") == graded["key_before"], "grading/ changed"
    assert all(_verdict(graded, "vandal", e)[0] == rules.SOLVED
               for e in ("symmetry-scale-factor", "symmetry-count-layernorm"))


def test_submissions_folder_is_never_modified(graded):
    assert _tree_digest(graded["root"]) == graded["before"]


def test_gradebook_csv_and_reports(graded):
    out = graded["out"]
    with (out / "gradebook.csv").open(encoding="utf-8") as handle:
        table = {row["Student"]: row for row in csv.DictReader(handle)}
    assert set(table) == set(graded["rows"])
    column = next(c for c in table["ada"] if c.endswith("symmetry-scale-factor"))
    assert column.startswith("Ex 2.1") or column.startswith("Ex ")
    assert table["ada"][column] == "1" and table["bob"][column] == "0"
    assert int(table["ada"]["Total"]) == 3 and int(table["ada"]["Out of"]) >= 5
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "not valid JSON" in report and "NameError" in report
    assert "<table>" in (out / "report.html").read_text(encoding="utf-8")


# --- end to end: the real chapter, full and student editions --------------------------------

def test_real_chapter_full_edition_solves_all_and_student_edition_attempts_none(tmp_path):
    root, out = tmp_path / "class", tmp_path / "out"
    root.mkdir()
    source = REPO / "book" / f"{CHAPTER}.ipynb"
    (root / f"teacher_{CHAPTER}.ipynb").write_text(source.read_text(encoding="utf-8"))
    student = student_edition.student_notebook(json.loads(source.read_text(encoding="utf-8")))
    (root / f"blank_{CHAPTER}.ipynb").write_text(json.dumps(student), encoding="utf-8")
    result = grade.grade(root, out, None, 2, Limits(cell_seconds=300, total_seconds=600))
    rows = {row["student"]: row for row in result["rows"]}
    exercises = grade.graded_exercises()[CHAPTER]
    assert {rows["teacher"]["verdicts"][e["id"]][0] for e in exercises} == {rules.SOLVED}, \
        rows["teacher"]["verdicts"]
    assert {rows["blank"]["verdicts"][e["id"]][0] for e in exercises} == {rules.NOT_ATTEMPTED}, \
        rows["blank"]["verdicts"]


def test_recorder_source_is_valid_python():
    compile(record.recorder_source(), "recorder", "exec")
