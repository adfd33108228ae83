"""Fixtures shared by the tests in this folder.

(The repository-root ``conftest.py`` wires the image checks into nbval; this one only
holds what several test modules here need.)
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess

import pytest
import torch
from hypothesis import HealthCheck, settings

from bookbuild import ROOT, build

# Property-based tests (test_properties.py): a fast profile by default, a heavier one on demand
# with SYMCOURSE_HYPOTHESIS=thorough. Deadlines are off (the tests time the calls themselves);
# the fast profile is derandomized so it runs the same examples every time.
_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
               database=None)
settings.register_profile("fast", max_examples=3, derandomize=True, **_COMMON)
settings.register_profile("thorough", max_examples=100, **_COMMON)
settings.load_profile(os.environ.get("SYMCOURSE_HYPOTHESIS", "fast"))


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Single-threaded torch: deterministic, and fast even on a busy two-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def book_build(tmp_path_factory):
    """The real book, built strictly once per test run into a temporary folder.

    Returns ``(completed_process, html_dir)``; used by test_book.py and test_browser.py.
    In a parallel run (pytest-xdist) the workers share one build: the first to need it
    builds it under a file lock, the others wait and reuse it (and its recorded result).
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        output = tmp_path_factory.mktemp("book")
        return build(ROOT, output), output / "_build" / "html"
    shared = tmp_path_factory.getbasetemp().parent / "book-shared"  # common to all workers
    shared.mkdir(exist_ok=True)
    record = shared / "build-result.json"
    with open(shared / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not record.is_file():
                result = build(ROOT, shared)
                record.write_text(json.dumps({"args": result.args, "returncode": result.returncode,
                                              "stdout": result.stdout, "stderr": result.stderr}))
            saved = json.loads(record.read_text())
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    result = subprocess.CompletedProcess(saved["args"], saved["returncode"], saved["stdout"],
                                         saved["stderr"])
    return result, shared / "_build" / "html"


#: Lines the browser test wants a person to see (screenshot folder, sizes, timing),
#: printed in the terminal summary even when the test passes.
_BROWSER_REPORT: list[str] = []


@pytest.fixture
def browser_report() -> list[str]:
    return _BROWSER_REPORT


def pytest_terminal_summary(terminalreporter):
    if _BROWSER_REPORT:
        terminalreporter.section("browser check")
        for line in _BROWSER_REPORT:
            terminalreporter.write_line(line)
