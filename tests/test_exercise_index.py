"""The exercise convention and the exercise index (book/_ext/coursetools.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "book" / "_ext"))
import coursetools  # noqa: E402


def _nb(*cells):
    return {"cells": [{"cell_type": kind, "metadata": {}, "source": text} for kind, text in cells]}


def test_exercises_are_read_with_kind_time_and_self_checks():
    nb = _nb(("markdown", "```{exercise} [code · 15 min] Dead on arrival\n:label: ex-a\n\nText.\n```"),
             ("markdown", "```{solution-start} ex-a\n:class: dropdown\n```"),
             ("code", 'x = 1\ncheck("id-a", x)'),
             ("markdown", "```{solution-end}\n```\n\n```{exercise} [derive · 5 min] Why\n:label: ex-b\n```"),
             ("code", 'check("not-a-solution", 0)'),
             ("markdown", "```{exercise} [check · 5 min] Same cell\n:label: ex-c\n```\n\n"
                          "```{solution-start} ex-c\n:class: dropdown\n```"),
             ("code", 'check("id-c", 1)'),
             ("markdown", "```{solution-end}\n```"))
    found = coursetools.notebook_exercises(nb)
    assert [(e["label"], e["kind"], e["minutes"], e["title"], e["checks"]) for e in found] == [
        ("ex-a", "code", 15, "Dead on arrival", ["id-a"]), ("ex-b", "derive", 5, "Why", []),
        ("ex-c", "check", 5, "Same cell", ["id-c"])]


@pytest.mark.parametrize("title", ["Untagged title", "[homework · 5 min] Unknown kind", "[code] No time"])
def test_an_exercise_off_the_convention_is_an_error(title):
    nb = _nb(("markdown", f"```{{exercise}} {title}\n:label: ex-bad\n```"))
    with pytest.raises(coursetools.ExerciseConventionError, match="ex-bad"):
        coursetools.notebook_exercises(nb)


def test_every_chapter_follows_the_convention_with_at_least_four_exercises():
    for path in sorted((REPO / "book").glob("[0-9][0-9]_*.ipynb")):
        exercises = coursetools.notebook_exercises(coursetools.read_notebook(path))
        assert len(exercises) >= 4, path.name
        assert len({e["kind"] for e in exercises}) >= 3, f"{path.name}: exercises should span the kinds"


# --- one numbering: chapter.n from the table of contents ---------------------------------

def test_numbers_follow_the_table_of_contents():
    chapters = coursetools.chapter_numbers(REPO)
    assert list(chapters.values()) == list(range(1, len(chapters) + 1))
    numbered = coursetools.numbered_exercises(REPO)
    numbers = [e["number"] for e in numbered]
    assert len(set(numbers)) == len(numbers), "an exercise number is used twice"
    for doc, chapter in chapters.items():
        own = [e["number"] for e in numbered if e["doc"] == doc]
        assert own == [f"{chapter}.{n}" for n in range(1, len(own) + 1)], doc


def test_index_titles_typeset_math():
    parts = coursetools._with_math(r"How fast does $\epsilon$ break $H\xi = 0$? Costs \$5")
    kinds = [type(p).__name__ for p in parts]
    assert kinds == ["Text", "math", "Text", "math", "Text"]
    assert parts[1].astext() == r"\epsilon" and parts[3].astext() == r"H\xi = 0"


def test_doubled_exercise_word_is_dropped():
    from docutils import nodes
    paragraph = nodes.paragraph()
    paragraph += nodes.Text("as in exercise")
    paragraph += nodes.Text("\n")  # MyST's soft line break is a node of its own
    link = nodes.reference("", "", internal=True, refuri="#ex-a")
    link += nodes.inline("", "Exercise 2.5")
    paragraph += link
    document = nodes.document(None, None)
    document += paragraph
    coursetools.drop_doubled_exercise_word(None, document, "x")
    assert " ".join(document.astext().split()) == "as in Exercise 2.5"


def test_instructor_guide_names_exercises_by_reference_not_typed_number():
    import re
    guide = (REPO / "book" / "instructor.md").read_text(encoding="utf-8")
    typed = re.findall(r"\b[Ee]xercises? \d+\b", guide)
    assert not typed, f"typed exercise numbers in the instructor guide: {typed[:5]} (use {{ref}})"
