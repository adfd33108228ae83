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
