"""tools/execute_notebooks.py puts the explorers' offline controls, drawn after a chapter has
run, in place of their one-figure fallbacks (symcourse.widgets.offline_controls)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import execute_notebooks  # noqa: E402

FALLBACK = '<div class="symcourse-explorer-fallback"><img src="data:image/png;base64,AA"></div>'


def _notebook(n_explorers):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("text"))
    for i in range(n_explorers):
        cell = nbformat.v4.new_code_cell(f"Explorer{i}()")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="before\n"),
                        nbformat.v4.new_output("display_data", data={
                            "text/plain": f"Explorer{i}", "text/html": FALLBACK})]
        nb.cells.append(cell)
    plain = nbformat.v4.new_code_cell("1 + 1")
    plain.outputs = [nbformat.v4.new_output("display_data", data={"text/html": "<b>2</b>"})]
    nb.cells.append(plain)
    return nb


def _offline_cell(controls, split=False):
    text = json.dumps(controls) + "\n"
    parts = [text[:5], text[5:]] if split else [text]
    cell = nbformat.v4.new_code_cell(execute_notebooks.OFFLINE_CELL)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=p) for p in parts]
    return cell


def test_controls_replace_the_fallbacks_in_order():
    nb = _notebook(2)
    count = execute_notebooks.insert_offline_controls(nb, _offline_cell(["<p>A</p>", "<p>B</p>"],
                                                                        split=True))
    assert count == 2
    html = [c.outputs[1]["data"]["text/html"] for c in nb.cells[1:3]]
    assert html == ["<p>A</p>", "<p>B</p>"]
    assert nb.cells[1].outputs[0]["text"] == "before\n"  # other outputs untouched
    assert nb.cells[3].outputs[0]["data"]["text/html"] == "<b>2</b>"


def test_a_chapter_without_explorers_needs_no_controls():
    nb = _notebook(0)
    assert execute_notebooks.insert_offline_controls(nb, _offline_cell([])) == 0


@pytest.mark.parametrize("controls", [["<p>A</p>"], ["<p>A</p>", "<p>B</p>", "<p>C</p>"]])
def test_a_count_mismatch_fails_loudly_and_changes_nothing(controls):
    nb = _notebook(2)
    before = nbformat.writes(nb)
    with pytest.raises(execute_notebooks.NotebookFailed, match="offline explorer controls for 2"):
        execute_notebooks.insert_offline_controls(nb, _offline_cell(controls))
    assert nbformat.writes(nb) == before


def test_output_that_is_not_json_fails_loudly():
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="oops")]
    with pytest.raises(execute_notebooks.NotebookFailed, match="JSON"):
        execute_notebooks.insert_offline_controls(_notebook(1), cell)
