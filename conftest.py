"""Repository-wide pytest configuration.

``pyproject.toml`` runs pytest with ``--nbval``: every notebook under ``book/`` is
executed once, and nbval compares each cell's fresh outputs with the stored ones.
nbval itself skips ``image/png`` outputs, so here its per-cell comparison is wrapped to
also compare every stored PNG with the fresh one (``tests/nbimages.py``; tolerance
``PNG_RMS_TOLERANCE`` there). A cell whose plot changed fails with the RMS in its
report, and the stored, fresh and diff images are saved under ``_build/image-diffs/``.

It also works in parallel runs (``pytest -n 2 --dist loadfile``, as ``make test`` does:
a notebook's cells, one file, stay together on one worker; only the controlling process
clears old image diffs), and after a complete, passing run it records the suite's wall
time in ``tests/suite_time.json`` for the book's status page.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from nbimages import PNG_RMS_TOLERANCE, install_nbval_png_check  # noqa: E402

IMAGE_DIFF_DIR = Path("_build") / "image-diffs"

#: The notebook kernels started by nbval inherit this process's environment: no progress
#: bars in their outputs (symcourse.progress), and OpenMP threads that sleep while waiting
#: (set before torch starts in the kernel; a value already given is kept).
os.environ["SYMCOURSE_NO_PROGRESS"] = "1"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def pytest_configure(config):
    if not (config.getoption("nbval", False) or config.getoption("nbval_lax", False)):
        return
    # The sanitize file is named relative to the repository in pyproject.toml; resolve
    # it there so pytest also works when started from another folder.
    sanitize = config.getoption("nbval_sanitize_with", None)
    if sanitize and not Path(sanitize).is_file() and (config.rootpath / sanitize).is_file():
        config.option.nbval_sanitize_with = str(config.rootpath / sanitize)

    diff_dir = config.rootpath / IMAGE_DIFF_DIR
    if not hasattr(config, "workerinput"):  # not in pytest-xdist's workers: they start later
        for stale in diff_dir.glob("*.png"):  # images of an earlier run would mislead
            stale.unlink()
    install_nbval_png_check(diff_dir, PNG_RMS_TOLERANCE)
    config._symcourse_started = time.perf_counter()


# --------------------------------------------------------------------------------------
# The suite's wall time, for the book's status page
# --------------------------------------------------------------------------------------

#: Written after a complete, passing run of the default test selection (commit it).
SUITE_RECORD = ROOT / "tests" / "suite_time.json"


def is_full_run(config) -> bool:
    """The default selection (``testpaths``), unfiltered, in the controlling process."""
    option = config.option
    return (
        not hasattr(config, "workerinput")
        and config.args_source == pytest.Config.ArgsSource.TESTPATHS
        and not option.keyword and not option.markexpr
        and not getattr(option, "deselect", None)
        and not getattr(option, "lf", False)
        and bool(config.getoption("nbval", False))
    )


def suite_record(seconds: float, tests: int, workers: int, commit: str | None) -> dict:
    return {
        "seconds": round(seconds, 1),
        "tests": tests,
        "workers": workers,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
    }


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    started = getattr(config, "_symcourse_started", None)
    if exitstatus != 0 or started is None or not is_full_run(config):
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    stats = reporter.stats if reporter is not None else {}
    tests = sum(len(stats.get(key, [])) for key in ("passed", "skipped", "xfailed", "xpassed"))
    workers = int(getattr(config.option, "numprocesses", None) or 1)
    record = suite_record(time.perf_counter() - started, tests, workers, _commit())
    SUITE_RECORD.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
