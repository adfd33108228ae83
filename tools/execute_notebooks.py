"""Execute course notebooks in place and record the run in their metadata.

Usage: python tools/execute_notebooks.py book/01_stall.ipynb [more.ipynb ...]

Each notebook runs top to bottom in a fresh ``python3`` kernel, with its own folder as
the working directory, through nbclient (600 s limit per cell, per-cell timing and
widget state stored). The first error stops everything with a non-zero exit, and the
notebook that failed is left as it was on disk. After a clean run the notebook is
written back with its new outputs and ``metadata.symcourse.executed`` =
``{date, commit, seconds, offline_seconds, python, torch}``, which the book's "Execution
status" page reads. ``seconds`` is the chapter's own cells, what a learner waits for; then, in
the same kernel, the offline controls of its explorers are drawn (``offline_seconds``) and put
in place of their one-figure fallbacks, for the built book. Cell sources are never changed. The kernel gets this process's environment
(``OMP_NUM_THREADS`` included) plus two settings (:data:`KERNEL_ENV`): OpenMP's waiting
threads sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE``, unless set otherwise), and
progress bars are off, so the stored outputs hold nothing that changes from run to run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "book" / "_ext"))
from coursetools import BUDGET_SECONDS, execution_seconds  # noqa: E402

KERNEL_NAME = "python3"
#: Set for the kernels (before torch starts in them); ``setdefault`` ones keep a value given.
KERNEL_ENV = {"SYMCOURSE_NO_PROGRESS": "1"}
KERNEL_ENV_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}
CELL_TIMEOUT_SECONDS = 600
#: Run after a chapter's own cells, in its kernel, and then removed: the offline controls of the
#: explorers the chapter displayed (``symcourse.widgets.offline_controls``), which the built book
#: shows in place of each explorer's one-figure fallback. Timed apart from the chapter: a learner
#: running the notebook never waits for them.
OFFLINE_CELL = """import json as _json, sys as _sys
_widgets = _sys.modules.get("symcourse.widgets")
print(_json.dumps(_widgets.offline_controls() if _widgets else []))"""
FALLBACK_MARK = 'class="symcourse-explorer-fallback"'


def git_commit(cwd: Path, executed: list[Path] = ()) -> str | None:
    """Short hash of HEAD, the commit the notebooks are executed at.

    The rule (what the status page shows): the run is recorded at HEAD when every tracked
    and untracked file other than the notebooks being executed (``executed``, whose outputs
    this run replaces) is as committed; otherwise the hash gets ``-dirty``, a warning is
    printed, and ``tests/test_status_commits.py`` fails until the chapter is re-executed on a
    clean tree.
    """
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=cwd, capture_output=True, text=True, check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "-z"],
            cwd=cwd, capture_output=True, text=True, check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    skip = {Path(p).resolve() for p in executed}
    changed = [entry[3:] for entry in status.split("\0") if len(entry) > 3]
    others = [name for name in changed if (Path(cwd) / name).resolve() not in skip]
    return f"{commit}-dirty" if others else commit


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


class NotebookFailed(Exception):
    """A notebook did not run cleanly; the message says where and why."""


def _failed_cell(nb: nbformat.NotebookNode) -> str:
    """Where the first stored error output is, named like the book's notebook check."""
    code_index = -1
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        code_index += 1
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            return f"cell {index} (nbval: Cell {code_index})"
    return "a cell"


def insert_offline_controls(nb: nbformat.NotebookNode, offline_cell) -> int:
    """Put the offline controls that :data:`OFFLINE_CELL` printed in place of the explorers'
    fallback figures, in order; return how many. Raises :class:`NotebookFailed` when the
    counts differ (an explorer displayed twice in one cell, or one drawn outside a cell)."""
    import json

    printed = "".join(out.get("text", "") for out in offline_cell.get("outputs", [])
                      if out.get("output_type") == "stream" and out.get("name") == "stdout")
    try:
        controls = json.loads(printed)
    except ValueError as exc:
        raise NotebookFailed(f"the offline explorer controls did not come back as JSON: {exc}") from exc
    fallbacks = [out for cell in nb.cells if cell.cell_type == "code"
                 for out in cell.get("outputs", [])
                 if out.get("output_type") == "display_data"
                 and FALLBACK_MARK in str(out.get("data", {}).get("text/html", ""))]
    if len(fallbacks) != len(controls):
        raise NotebookFailed(f"{len(controls)} offline explorer controls for {len(fallbacks)} "
                             "explorer outputs: display each explorer once, in its own cell")
    for out, control in zip(fallbacks, controls):
        out["data"]["text/html"] = control
    return len(controls)


def execute(path: Path, commit: str | None) -> float:
    """Run one notebook in place; return its run time in seconds. Raises on failure."""
    nb = nbformat.read(path, as_version=4)
    # Widget state is re-recorded on every run; drop state left by an older run.
    nb.metadata.pop("widgets", None)
    client = NotebookClient(
        nb,
        kernel_name=KERNEL_NAME,
        timeout=CELL_TIMEOUT_SECONDS,
        allow_errors=False,
        record_timing=True,
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    nb.cells.append(nbformat.v4.new_code_cell(OFFLINE_CELL))
    started = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        raise NotebookFailed(
            f"{_failed_cell(nb)} raised {exc.ename}: {exc.evalue}\n\n{exc}"
        ) from exc
    except (CellTimeoutError, DeadKernelError) as exc:
        raise NotebookFailed(f"{type(exc).__name__}: {exc}") from exc
    wall = time.perf_counter() - started
    offline_cell = nb.cells.pop()
    offline_seconds = execution_seconds({"cells": [offline_cell]}) or 0.0
    insert_offline_controls(nb, offline_cell)
    seconds = execution_seconds(nb)
    if seconds is None:  # a notebook without code cells
        seconds = wall
    nb.metadata.setdefault("symcourse", {})["executed"] = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "seconds": round(seconds, 1),
        "offline_seconds": round(offline_seconds, 1),
        "python": platform.python_version(),
        "torch": package_version("torch"),
    }
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="notebooks to execute")
    args = parser.parse_args(argv)

    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2

    os.environ.update(KERNEL_ENV)  # kernels inherit this process's environment
    for name, value in KERNEL_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)

    # Recorded before any notebook is rewritten, so the first write does not make it dirty.
    commit = git_commit(REPO, args.notebooks)
    if commit is None:
        print("warning: no git commit found; recording commit as null", file=sys.stderr)
    elif commit.endswith("-dirty"):
        print(f"warning: files other than these notebooks differ from {commit[:-6]}; the "
              "status page will show the run as dirty: commit them and execute again",
              file=sys.stderr)

    for path in args.notebooks:
        path = path.resolve()
        shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        try:
            seconds = execute(path, commit)
        except NotebookFailed as exc:
            # nbclient stops at the failing cell; the file on disk is left untouched.
            print(f"FAILED {shown} (not written, later notebooks not run): {exc}",
                  file=sys.stderr)
            return 1
        print(f"{shown}: {seconds:.1f} s", flush=True)
        if seconds > BUDGET_SECONDS:
            print(
                f"warning: {shown} took {seconds:.1f} s, over the {BUDGET_SECONDS:g} s "
                "budget per chapter",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
