"""Progress bars for long loops that never end up in a notebook's stored outputs.

:func:`progress_bar` returns a ``tqdm`` bar (a widget in JupyterLab, a text line in a
terminal) when someone is watching, and a silent stand-in with the same methods otherwise:
when the environment variable :data:`QUIET_ENV` is set (the test run and
``tools/execute_notebooks.py`` set it, so nbval's output comparison and the image checks
see nothing), or when the output is neither a terminal nor a Jupyter kernel (logs, pipes).
The bar appears only after :data:`DELAY_SECONDS`, so quick calls stay quiet, and it is
removed when the loop ends. Introduced in chapter 1 (with the sweep engine).
"""
from __future__ import annotations

import os
import sys

#: Set (to anything non-empty) to switch every progress bar off.
QUIET_ENV = "SYMCOURSE_NO_PROGRESS"
#: A bar shows only once its loop has run this long.
DELAY_SECONDS = 1.0


def _in_kernel() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ipython = shell.get_ipython()
    return ipython is not None and "IPKernelApp" in getattr(ipython, "config", {})


def progress_enabled(enabled: bool | None = None) -> bool:
    """Whether a bar would be shown: ``enabled`` if given, else decided from the environment.

    Off when :data:`QUIET_ENV` is set; otherwise on in a Jupyter kernel or when standard error
    is a terminal. Introduced in chapter 1.
    """
    if enabled is not None:
        if not isinstance(enabled, bool):
            raise TypeError(f"enabled must be True, False or None, got {enabled!r}")
        return enabled
    if os.environ.get(QUIET_ENV):
        return False
    if _in_kernel():
        return True
    stream = sys.stderr
    return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())


class _Silent:
    """What :func:`progress_bar` returns when no bar is shown: the used part of tqdm's API."""

    def __init__(self, iterable=None, total=None):
        self.iterable, self.total, self.n = iterable, total, 0
        self.disable = True

    def __iter__(self):
        for item in self.iterable:
            self.n += 1
            yield item

    def update(self, n=1):
        self.n += n

    def set_postfix_str(self, s="", refresh=True):
        pass

    def set_description(self, desc=None, refresh=True):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def progress_bar(iterable=None, *, total: int | None = None, desc: str | None = None,
                 unit: str = "it", enabled: bool | None = None):
    """A progress bar over ``iterable`` (or, without one, advanced by ``bar.update(n)``).

    ``total`` is the number of units expected (taken from ``len(iterable)`` when omitted),
    ``desc`` a short label and ``unit`` what is counted (e.g. ``"seed-step"``). ``enabled``
    forces the bar on or off; ``None`` decides with :func:`progress_enabled`. Use it as a
    context manager (or call ``close()``) so the bar is removed at the end. Introduced in
    chapter 1; the sweep engines use it for their long loops.
    """
    if total is not None:
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise ValueError(f"total must be a non-negative integer or None, got {total!r}")
    if desc is not None and not isinstance(desc, str):
        raise TypeError(f"desc must be a string or None, got {type(desc).__name__}")
    if not isinstance(unit, str) or not unit:
        raise ValueError(f"unit must be a non-empty string, got {unit!r}")
    if iterable is not None and total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    if not progress_enabled(enabled):
        return _Silent(iterable, total)
    if _in_kernel():
        from tqdm.notebook import tqdm
    else:
        from tqdm import tqdm
    return tqdm(iterable, total=total, desc=desc, unit=unit, unit_scale=True, leave=False,
                delay=DELAY_SECONDS, dynamic_ncols=True)


__all__ = ["QUIET_ENV", "DELAY_SECONDS", "progress_enabled", "progress_bar"]
