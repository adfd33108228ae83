"""Repository-wide pytest configuration.

``pyproject.toml`` runs pytest with ``--nbval``: every notebook under ``book/`` is
executed once, and nbval compares each cell's fresh outputs with the stored ones.
nbval itself skips ``image/png`` outputs, so here its per-cell comparison is wrapped to
also compare every stored PNG with the fresh one (``tests/nbimages.py``; tolerance
``PNG_RMS_TOLERANCE`` there). A cell whose plot changed fails with the RMS in its
report, and the stored, fresh and diff images are saved under ``_build/image-diffs/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from nbimages import PNG_RMS_TOLERANCE, install_nbval_png_check  # noqa: E402

IMAGE_DIFF_DIR = Path("_build") / "image-diffs"


def pytest_configure(config):
    if not (config.getoption("nbval", False) or config.getoption("nbval_lax", False)):
        return
    # The sanitize file is named relative to the repository in pyproject.toml; resolve
    # it there so pytest also works when started from another folder.
    sanitize = config.getoption("nbval_sanitize_with", None)
    if sanitize and not Path(sanitize).is_file() and (config.rootpath / sanitize).is_file():
        config.option.nbval_sanitize_with = str(config.rootpath / sanitize)

    diff_dir = config.rootpath / IMAGE_DIFF_DIR
    for stale in diff_dir.glob("*.png"):  # images of an earlier run would mislead
        stale.unlink()
    install_nbval_png_check(diff_dir, PNG_RMS_TOLERANCE)
