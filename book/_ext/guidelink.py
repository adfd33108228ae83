"""The ``{instructor-guide}`` role: a link to the instructor guide where the edition has one.

The welcome page links the instructor guide, but the student edition
(``tools/student_edition.py``) leaves that page out, and a plain ``{doc}`` link to a
missing page fails the strict build. The role writes a document link when the book being
built contains ``book/instructor``, and plain text saying where to find the guide when it
does not::

    The {instructor-guide}`instructor guide` has a teaching plan for each chapter.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx import addnodes

__version__ = "1.0"

GUIDE = "book/instructor"
MISSING = " (in the instructor edition of this book, not in this one)"


def instructor_guide_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """A ``doc`` link to the guide, or the text and a note when this edition lacks it."""
    env = inliner.document.settings.env
    if GUIDE not in env.found_docs:
        return [nodes.inline(rawtext, text + MISSING)], []
    node = addnodes.pending_xref(
        rawtext, refdomain="std", reftype="doc", reftarget="/" + GUIDE,
        refexplicit=True, refwarn=True, refdoc=env.docname)
    node += nodes.inline(text, text, classes=["xref", "std", "std-doc"])
    return [node], []


def setup(app: Any) -> dict[str, Any]:
    app.add_role("instructor-guide", instructor_guide_role)
    return {
        "version": __version__,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
