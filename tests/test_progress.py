"""Tests for symcourse.progress: a bar when someone watches, nothing in stored outputs."""
from __future__ import annotations

import io

import pytest

from symcourse import progress


def test_quiet_variable_switches_bars_off(monkeypatch):
    monkeypatch.setenv(progress.QUIET_ENV, "1")
    assert progress.progress_enabled() is False
    bar = progress.progress_bar(range(3), desc="x")
    assert bar.disable and list(bar) == [0, 1, 2] and bar.n == 3


def test_the_test_run_sets_the_quiet_variable():
    # the root conftest.py sets it, so nbval's kernels inherit it
    import os

    assert os.environ.get(progress.QUIET_ENV)


def test_not_a_terminal_means_no_bar(monkeypatch):
    monkeypatch.delenv(progress.QUIET_ENV, raising=False)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert progress.progress_enabled() is False


class Terminal(io.StringIO):
    """Standard error as a terminal that records what is written to it."""

    def isatty(self):
        return True


@pytest.fixture
def terminal(monkeypatch):
    """A function that makes standard error a terminal (call it in the test itself: pytest's
    capture resets ``sys.stderr`` between fixture set-up and the test), with the quiet variable
    unset and bars shown at once."""
    monkeypatch.delenv(progress.QUIET_ENV, raising=False)
    monkeypatch.setattr(progress, "DELAY_SECONDS", 0.0)

    def use() -> Terminal:
        stream = Terminal()
        monkeypatch.setattr("sys.stderr", stream)
        return stream

    return use


def test_terminal_gets_a_tqdm_bar_that_is_removed_at_the_end(terminal):
    stream = terminal()
    assert progress.progress_enabled() is True
    with progress.progress_bar(total=200, desc="sweep", unit="seed-step") as bar:
        assert not bar.disable
        bar.update(150)
        bar.update(50)
        assert bar.n == 200
    shown = stream.getvalue()
    assert "sweep" in shown and "seed-step" in shown and "200" in shown


def test_forcing_overrides_the_environment(monkeypatch):
    monkeypatch.setenv(progress.QUIET_ENV, "1")
    assert progress.progress_enabled(True) is True
    assert progress.progress_enabled(False) is False
    silent = progress.progress_bar(total=5, enabled=False)
    with silent as bar:
        bar.update(2)
        bar.set_postfix_str("ok")
        bar.set_description("d")
    assert bar.n == 2 and bar.total == 5


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(total=-1), ValueError, "total"),
    (dict(total=2.5), ValueError, "total"),
    (dict(total=True), ValueError, "total"),
    (dict(desc=3), TypeError, "desc"),
    (dict(unit=""), ValueError, "unit"),
    (dict(enabled="yes"), TypeError, "enabled"),
])
def test_bad_arguments_are_named(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        progress.progress_bar(**kwargs)
