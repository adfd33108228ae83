"""Computed numbers into the book's text. Introduced in chapter 1.

``glue(name, value, display=False)`` stores ``value``'s display data in the cell's output under
``name``; a ``{glue:text}`` role in the prose then shows it, so no number in the text is typed
by hand. The output has myst-nb's glue format, which the book build reads: a ``scrapbook``
entry in the output's metadata and, when the value is not displayed, every mime type prefixed
with :data:`RECORD_PREFIX`. It is written here rather than imported from myst-nb because that
import brings nbformat and its JSON-schema validator into the kernel, which took 1.3-1.7 s at
the first glue of every chapter (measured in a kernel on this course's environment).
"""
from __future__ import annotations

from IPython.core.formatters import format_display_data
from IPython.display import display as show

#: Prefix of the mime types of a value glued without being displayed (myst-nb reads it).
RECORD_PREFIX = "application/papermill.record/"


def glue(name: str, value, display: bool = True) -> None:
    """Store ``value``'s display data under ``name`` for the book's ``{glue}`` roles; with
    ``display=True`` it is also shown in the notebook. Chapter 1."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if not isinstance(display, bool):
        raise TypeError(f"display must be True or False, got {display!r}")
    bundle, metadata = format_display_data(value)
    prefix = "" if display else RECORD_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    show({prefix + kind: data for kind, data in bundle.items()}, raw=True, metadata=metadata)


__all__ = ["RECORD_PREFIX", "glue"]
