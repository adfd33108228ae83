"""Building the book strictly, shared by tests/test_book.py and tests/test_browser.py.

The strict build of the real book runs once per test session: the ``book_build``
fixture in ``tests/conftest.py`` calls :func:`build` and both test modules use it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def jupyter_book() -> str:
    local = Path(sys.executable).with_name("jupyter-book")
    found = str(local) if local.exists() else shutil.which("jupyter-book")
    assert found, "jupyter-book is not installed (pip install -e '.[test]')"
    return found


def build(source: Path, output: Path, config: Path | None = None) -> subprocess.CompletedProcess:
    """``jupyter-book build`` with warnings as errors; HTML in ``output/_build/html``.

    ``config`` replaces ``source/_config.yml`` (as ``make book REPO_URL=...`` does).
    """
    return subprocess.run(
        [jupyter_book(), "build", str(source), "--warningiserror", "--nitpick",
         "--keep-going", "--path-output", str(output)]
        + (["--config", str(config)] if config is not None else []),
        capture_output=True, text=True, timeout=900,
    )


def summary(result: subprocess.CompletedProcess) -> str:
    """The warnings and errors of a build, then the end of its output."""
    report = result.stdout + result.stderr
    flagged = [line for line in report.splitlines()
               if "WARNING" in line or "ERROR" in line or "check failed" in line]
    return "\n".join(flagged[:60]) + "\n...\n" + report[-2000:]


def built_html(book_build) -> Path:
    """The HTML folder of the ``book_build`` fixture; fails if the build failed."""
    result, html_dir = book_build
    assert result.returncode == 0, "the book did not build: see test_book_builds_strictly"
    return html_dir
