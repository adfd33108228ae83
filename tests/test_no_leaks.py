"""No graded answer is readable in what students receive: the student edition (notebooks with
their stored outputs, and every page) is scanned for every reference answer in
``grading/key.json``, as the text a reader would search for (a number at 3 or 4 significant
digits or decimals). The instructor guide must not be in it at all.

Answers that cannot be told apart from ordinary text (whole numbers below 1000, short arrays,
words such as a regime's name) are listed by ``test_unscannable_answers_are_few`` instead.
Exercises whose answer the chapter itself prints are in :data:`PRINTED_IN_CHAPTER` (expected
failures, strict): their chapters are being redesigned; remove an entry once it passes.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tools"), str(REPO)]
import student_edition  # noqa: E402

from grading import rules  # noqa: E402

KEY = rules.load_key()
#: exercise id -> where the chapter prints its answer (to be redesigned by the chapter owner).
PRINTED_IN_CHAPTER: dict[str, str] = {
}


def spellings(record: dict) -> list[str]:
    """How a reader would find this answer in text; empty when it cannot be told apart."""
    value = record.get("value")
    if record.get("kind") == "float" and isinstance(value, float) and value != 0:
        if f"{value:.2g}" == f"{value:.6g}":  # 0.5, 2.0, 1e-3: too common to mean anything
            return []
        forms = {f"{value:.3g}", f"{value:.4g}", f"{value:.3f}", f"{value:.4f}",
                 f"{value:.2e}", f"{value:.3e}"}
        return sorted(f for f in forms if len(f.strip("-0.")) >= 3 and "e+0" not in f)
    if record.get("kind") == "int" and isinstance(value, int) and abs(value) >= 1000:
        return [str(value), f"{value:,}"]
    return []


@pytest.fixture(scope="module")
def student_text(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("student")
    student_edition.write_edition(out)
    parts = []
    for path in sorted(out.rglob("*")):
        if path.suffix == ".ipynb":
            for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
                parts.append("".join(cell["source"]))
                for output in cell.get("outputs", []):
                    parts.append("".join(output.get("text", "")))
                    parts += ["".join(v) for k, v in output.get("data", {}).items()
                              if k.startswith("text/")]
        elif path.suffix in (".md", ".yml", ".bib", ".txt"):
            parts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(parts)


def test_student_edition_has_no_instructor_guide(tmp_path):
    student_edition.write_edition(tmp_path)
    assert not list(tmp_path.rglob("instructor*")), "the instructor guide was shipped"
    assert "instructor" not in (tmp_path / "_toc.yml").read_text(encoding="utf-8")


SCANNABLE = sorted(exercise for exercise, record in KEY.items() if spellings(record))


@pytest.mark.parametrize("exercise", [
    pytest.param(e, marks=pytest.mark.xfail(strict=True, reason=PRINTED_IN_CHAPTER[e]))
    if e in PRINTED_IN_CHAPTER else e for e in SCANNABLE])
def test_no_graded_answer_is_printed_for_students(exercise, student_text):
    found = [form for form in spellings(KEY[exercise])
             if re.search(rf"(?<![\d.]){re.escape(form)}(?![\d])", student_text)]
    assert not found, f"{exercise}: the student edition shows its answer as {found}"


def test_unscannable_answers_are_few():
    unscannable = sorted(set(KEY) - set(SCANNABLE))
    assert len(unscannable) <= len(KEY) * 3 // 4, unscannable
