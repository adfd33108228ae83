"""Tolerant comparison of the PNG outputs of a notebook cell, for nbval runs.

nbval 0.11 compares text, HTML and SVG outputs but skips ``image/png``: a blank plot in
place of a real one would pass. The root ``conftest.py`` therefore wraps nbval's
``IPyNbCell.compare_outputs`` with :func:`install_nbval_png_check`, so that the one
execution of each notebook under ``pytest --nbval`` also compares every stored PNG with
the freshly rendered one via :func:`compare_png_outputs`.
"""

from __future__ import annotations

import base64
import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping

# Root-mean-square difference allowed between a stored and a fresh PNG, in grey levels
# (0-255, over all pixels and colour channels; matplotlib's compare_images scale).
# Re-rendering on the same machine gives byte-identical PNGs (RMS 0), so the tolerance
# only has to absorb anti-aliasing noise: numbers that differ in their last digits
# between thread counts, or another FreeType/matplotlib build drawing text slightly
# differently, stay well below 1-2. A visible change of a plotted element is far above
# it: doubling the marker size of one series gave RMS of about 8.5, and the tests in
# tests/test_nbimages.py measure such cases against this constant.
PNG_RMS_TOLERANCE = 2.0

PNG_MIME = "image/png"


def png_outputs(outputs: Iterable[Mapping[str, Any]]) -> list[bytes]:
    """Decoded ``image/png`` payloads of a cell's outputs, in output order."""
    payloads = []
    for output in outputs or []:
        data = output.get("data") or {}
        encoded = data.get(PNG_MIME)
        if encoded is None:
            continue
        if isinstance(encoded, list):  # nbformat allows a list of lines
            encoded = "".join(encoded)
        payloads.append(base64.b64decode(encoded))
    return payloads


def _png_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size  # (width, height)


def _save(src: Path, diff_dir: Path | None, name: str) -> Path | None:
    if diff_dir is None or not src.exists():
        return None
    diff_dir.mkdir(parents=True, exist_ok=True)
    dest = diff_dir / name
    shutil.copyfile(src, dest)
    return dest


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _saved_note(paths: list[Path | None]) -> str:
    saved = [_shown(p) for p in paths if p is not None]
    return f" (saved: {', '.join(saved)})" if saved else ""


def compare_png_outputs(
    ref_outputs: Iterable[Mapping[str, Any]],
    test_outputs: Iterable[Mapping[str, Any]],
    tol: float = PNG_RMS_TOLERANCE,
    *,
    diff_dir: str | Path | None = None,
    label: str = "cell",
) -> list[str]:
    """Compare the PNGs of the stored (``ref``) and fresh (``test``) outputs of one cell.

    Returns a list of problems, empty when every PNG matches within ``tol`` (RMS, in
    grey levels). A different number of PNGs, a different pixel size, or an RMS above
    ``tol`` is a problem. When ``diff_dir`` is given, the stored and fresh PNGs of each
    mismatch (and matplotlib's diff image, when sizes agree) are saved there as
    ``<label>-png<k>-stored.png``, ``-fresh.png`` and ``-diff.png``.
    """
    from matplotlib.testing.compare import compare_images

    refs = png_outputs(ref_outputs)
    tests = png_outputs(test_outputs)
    out_dir = Path(diff_dir) if diff_dir is not None else None
    problems: list[str] = []

    with tempfile.TemporaryDirectory(prefix="nbimages-") as tmp:
        tmpdir = Path(tmp)

        def write(kind: str, k: int, payload: bytes) -> Path:
            path = tmpdir / f"{label}-png{k}-{kind}.png"
            path.write_bytes(payload)
            return path

        if len(refs) != len(tests):
            saved: list[Path | None] = []
            for k, payload in enumerate(refs, 1):
                saved.append(_save(write("stored", k, payload), out_dir, f"{label}-png{k}-stored.png"))
            for k, payload in enumerate(tests, 1):
                saved.append(_save(write("fresh", k, payload), out_dir, f"{label}-png{k}-fresh.png"))
            problems.append(
                f"{label}: {len(refs)} stored PNG output(s) but {len(tests)} fresh one(s)"
                + _saved_note(saved)
            )
            return problems

        total = len(refs)
        for k, (ref, test) in enumerate(zip(refs, tests), 1):
            if ref == test:
                continue
            expected = write("stored", k, ref)
            actual = write("fresh", k, test)
            where = f"{label}, PNG {k} of {total}"
            ref_size, test_size = _png_size(expected), _png_size(actual)
            if ref_size != test_size:
                saved = [
                    _save(expected, out_dir, f"{label}-png{k}-stored.png"),
                    _save(actual, out_dir, f"{label}-png{k}-fresh.png"),
                ]
                problems.append(
                    f"{where}: size differs, stored {ref_size[0]}x{ref_size[1]} px, "
                    f"fresh {test_size[0]}x{test_size[1]} px" + _saved_note(saved)
                )
                continue
            result = compare_images(str(expected), str(actual), tol=tol, in_decorator=True)
            if result is None:
                continue
            saved = [
                _save(expected, out_dir, f"{label}-png{k}-stored.png"),
                _save(actual, out_dir, f"{label}-png{k}-fresh.png"),
                _save(Path(result["diff"]), out_dir, f"{label}-png{k}-diff.png"),
            ]
            problems.append(
                f"{where}: RMS {float(result['rms']):.2f} exceeds the tolerance {tol:g}"
                + _saved_note(saved)
            )
    return problems


#: Attribute set on the installed wrapper, so it is installed once and can be checked.
WRAPPER_FLAG = "_symcourse_png_check"


def install_nbval_png_check(
    diff_dir: str | Path, tol: float = PNG_RMS_TOLERANCE
) -> None:
    """Wrap ``nbval.plugin.IPyNbCell.compare_outputs`` to also compare PNG outputs.

    nbval calls ``compare_outputs(test, ref)`` for each cell whose output it checks
    (not for cells marked ``# NBVAL_IGNORE_OUTPUT`` / tagged ``nbval-ignore-output``,
    nor for ``--nbval-lax`` cells without ``# NBVAL_CHECK_OUTPUT``), with the fresh and
    the stored outputs, PNGs included. The wrapper keeps nbval's verdict and adds the
    PNG problems to the cell's failure report.
    """
    from nbval.plugin import IPyNbCell

    original = IPyNbCell.compare_outputs
    if getattr(original, WRAPPER_FLAG, False):
        return
    diff_path = Path(diff_dir)

    @functools.wraps(original)
    def compare_outputs(self, test, ref, skip_compare=None):
        same = original(self, test, ref, skip_compare)
        if not self.options.get("check", True):  # nbval was told to ignore this output
            return same
        label = f"{Path(str(self.fspath)).stem}-cell{self.cell_num}"
        problems = compare_png_outputs(ref, test, tol, diff_dir=diff_path, label=label)
        if not problems:
            return same
        if not hasattr(self, "comparison_traceback"):
            self.comparison_traceback = []
        self.comparison_traceback.append(
            f"PNG outputs of {self.name} differ from the stored ones "
            f"(RMS tolerance {tol:g}, see tests/nbimages.py):"
        )
        self.comparison_traceback.extend(f"  {problem}" for problem in problems)
        return False

    setattr(compare_outputs, WRAPPER_FLAG, True)
    IPyNbCell.compare_outputs = compare_outputs
