"""The status page's goal column and the suite's recorded wall time (book/_ext/coursetools.py)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import coursetools  # noqa: E402


def _nb(seconds):
    return {"cells": [], "metadata": {"symcourse": {"executed": {"seconds": seconds}}}}


def test_rows_judge_the_goal_and_the_limit_separately():
    assert coursetools.GOAL_SECONDS == 30.0 and coursetools.BUDGET_SECONDS == 60.0
    fast, middle, slow = (coursetools._status_row(_nb(s), 60.0, 30.0) for s in (12.8, 45.0, 90.5))
    assert fast[:3] == ["12.8", "✓", "✓"]
    assert middle[:3] == ["45.0", "✗", "✓"]
    assert slow[:3] == ["90.5", "✗", "✗"]
    assert coursetools._status_row(None, 60.0, 30.0)[:3] == ["unreadable", "✗", "✗"]
    assert coursetools._status_row({"cells": [], "metadata": {}}, 60.0, 30.0)[:3] == [
        "not measured", "?", "?"]


def test_suite_sentence_from_the_record(tmp_path):
    path = tmp_path / "suite_time.json"
    assert coursetools.read_suite_record(path) is None
    assert "no full run recorded" in coursetools.suite_sentence(None)
    path.write_text("{not json")
    assert coursetools.read_suite_record(path) is None
    path.write_text(json.dumps({"seconds": "fast"}))
    assert coursetools.read_suite_record(path) is None
    path.write_text(json.dumps({"seconds": 487.6, "tests": 312, "workers": 2,
                                "date": "2026-11-30T07:40:00+00:00", "commit": "abc1234"}))
    sentence = coursetools.suite_sentence(coursetools.read_suite_record(path))
    assert sentence == ("Test suite: the last full run took 8 min 08 s (312 tests, 2 workers, "
                        "2026-11-30 07:40 UTC, commit abc1234).")


def test_rows_report_the_explorer_frames_apart():
    nb = _nb(12.8)
    assert coursetools._status_row(nb, 60.0, 30.0)[-1] == "—"  # an older run: not recorded
    nb["metadata"]["symcourse"]["executed"]["offline_seconds"] = 3.4
    row = coursetools._status_row(nb, 60.0, 30.0)
    assert row[0] == "12.8" and row[-1] == "3.4", row
