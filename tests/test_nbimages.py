"""Tests of the PNG comparison that runs inside nbval (tests/nbimages.py, conftest.py)."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from nbimages import (  # noqa: E402
    PNG_RMS_TOLERANCE,
    WRAPPER_FLAG,
    compare_png_outputs,
    png_outputs,
)

ROOT = Path(__file__).resolve().parent.parent


def render(marker_size: float = 5.0, shift: float = 0.0, width: float = 4.0) -> bytes:
    """A small line-and-marker plot, rendered like the inline backend does."""
    fig, ax = plt.subplots(figsize=(width, 3))
    xs = [0, 1, 2, 3, 4]
    ax.plot(xs, [x * x for x in xs], "o-", ms=marker_size, label="loss")
    ax.plot(xs, [10 - 2 * x + shift for x in xs], "s--", ms=5, label="gap")
    ax.set_xlabel("step")
    ax.legend()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def display_output(png: bytes, text: str = "<Figure size 288x216 with 1 Axes>") -> dict:
    return {
        "output_type": "display_data",
        "data": {"image/png": base64.b64encode(png).decode(), "text/plain": text},
        "metadata": {},
    }


def test_identical_rerender_passes(tmp_path):
    stored, fresh = render(), render()
    assert compare_png_outputs([display_output(stored)], [display_output(fresh)],
                               PNG_RMS_TOLERANCE, diff_dir=tmp_path) == []
    assert not list(tmp_path.iterdir())  # nothing saved when nothing differs


def test_png_split_over_lines_is_decoded():
    png = render()
    encoded = base64.b64encode(png).decode()
    lines = [encoded[i:i + 76] + "\n" for i in range(0, len(encoded), 76)]
    output = {"output_type": "display_data", "data": {"image/png": lines}, "metadata": {}}
    assert png_outputs([output]) == [png]


@pytest.mark.parametrize(
    "altered",
    [
        pytest.param({"marker_size": 10.0}, id="marker-size-doubled"),
        pytest.param({"shift": 1.5}, id="one-line-shifted"),
    ],
)
def test_visible_change_is_flagged(tmp_path, altered):
    stored, fresh = render(), render(**altered)
    problems = compare_png_outputs([display_output(stored)], [display_output(fresh)],
                                   PNG_RMS_TOLERANCE, diff_dir=tmp_path, label="nb-cell3")
    assert len(problems) == 1, problems
    message = problems[0]
    assert message.startswith("nb-cell3, PNG 1 of 1: RMS ")
    rms = float(re.search(r"RMS ([0-9.]+)", message).group(1))
    assert rms > PNG_RMS_TOLERANCE
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved == ["nb-cell3-png1-diff.png", "nb-cell3-png1-fresh.png",
                     "nb-cell3-png1-stored.png"]


def test_missing_png_is_flagged(tmp_path):
    stored = [display_output(render())]
    fresh = [{"output_type": "stream", "name": "stdout", "text": "no plot\n"}]
    problems = compare_png_outputs(stored, fresh, PNG_RMS_TOLERANCE, diff_dir=tmp_path,
                                   label="nb-cell1")
    assert len(problems) == 1
    assert "1 stored PNG output(s) but 0 fresh one(s)" in problems[0]
    assert (tmp_path / "nb-cell1-png1-stored.png").is_file()


def test_extra_png_is_flagged():
    problems = compare_png_outputs([], [display_output(render())], PNG_RMS_TOLERANCE)
    assert problems and "0 stored PNG output(s) but 1 fresh one(s)" in problems[0]


def test_size_change_is_flagged():
    problems = compare_png_outputs([display_output(render())],
                                   [display_output(render(width=5.0))], PNG_RMS_TOLERANCE)
    assert len(problems) == 1 and "size differs" in problems[0]


def test_cells_without_png_pass():
    text = [{"output_type": "stream", "name": "stdout", "text": "time: T s\n"}]
    assert compare_png_outputs(text, text, PNG_RMS_TOLERANCE) == []


def test_wrapper_is_installed_under_nbval(pytestconfig):
    from nbval.plugin import IPyNbCell

    assert pytestconfig.getoption("nbval"), "pyproject.toml's addopts should pass --nbval"
    assert getattr(IPyNbCell.compare_outputs, WRAPPER_FLAG, False)
    assert IPyNbCell.compare_outputs.__wrapped__.__module__ == "nbval.plugin"


# --- end to end: one nbval run of a small notebook, through the repository's conftest ---

PLOT = (
    "fig, ax = plt.subplots(figsize=(3, 2))\n"
    "ax.plot([0, 1, 2, 3], [0, 1, 4, 9], 'o-', ms={ms})\n"
    "plt.show()"
)


def _executed_notebook(sources: list[str], cwd: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    NotebookClient(nb, kernel_name="python3", timeout=120,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def test_nbval_run_compares_pngs(tmp_path):
    """Stored plots made with ms=10 against code that now draws ms=5."""
    setup = ("import matplotlib\nmatplotlib.use('module://matplotlib_inline.backend_inline')\n"
             "import matplotlib.pyplot as plt\nprint('time: 1.23 s', object())")
    nb = _executed_notebook([setup, PLOT.format(ms=10), PLOT.format(ms=5),
                             PLOT.format(ms=10)], tmp_path)
    # Cell 1: stored ms=10, code now ms=5 -> must fail on the PNG alone.
    nb.cells[1].source = PLOT.format(ms=5)
    # Cell 2: unchanged -> passes. Cell 3: same change as cell 1, but nbval is told to
    # ignore its output -> the PNG check must skip it too.
    nb.cells[3].source = "# NBVAL_IGNORE_OUTPUT\n" + PLOT.format(ms=5)
    path = tmp_path / "plots.ipynb"
    nbformat.write(nb, path)

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider",
         "--nbval", "--nbval-current-env",
         "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"),
         "--rootdir", str(tmp_path), "-o", "addopts=", "-q", path.name],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    assert re.search(r"\b1 failed, 3 passed\b", report), report
    assert "plots.ipynb::Cell 1" in report
    assert re.search(r"plots-cell1, PNG 1 of 1: RMS [0-9.]+ exceeds the tolerance", report)
    diffs = tmp_path / "_build" / "image-diffs"
    assert sorted(p.name for p in diffs.iterdir()) == [
        "plots-cell1-png1-diff.png", "plots-cell1-png1-fresh.png",
        "plots-cell1-png1-stored.png"]
