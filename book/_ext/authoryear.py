"""Author-year labels for the book's bibliography page.

The chapters cite with ``{cite:p}`` / ``{cite:t}`` and ``bibtex_reference_style:
author_year``, so the text reads "[Saad and Solla, 1995]". sphinxcontrib-bibtex still
labels the bibliography entries with its default pybtex style, whose labels are
alphanumeric ("[SS95]"); a reader cannot match one to the other. This extension
registers a pybtex formatting style, ``authoryear``, whose labels have the same form
as the citations in the text:

- one author: ``Wilson, 1927``
- two authors: ``Saad and Solla, 1995`` (joined by "and", as the citations are)
- three or more: ``Kunin et al., 2021``

Two entries that would get the same label get ``a``, ``b``, ... after the year. The
entries are sorted by author, year and title, and every field pybtex knows how to
render as a link (``url``, ``eprint``, ``doi``) is shown. Select it with
``bibtex_default_style: authoryear`` (``_config.yml``).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from typing import Any, Iterable, Iterator

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting.author_year_title import SortingStyle

__version__ = "1.0"

STYLE_NAME = "authoryear"


def _surname(person: Any) -> str:
    """A person's surname as plain text, with any particle ("van Laarhoven")."""
    parts = list(person.rich_prelast_names) + list(person.rich_last_names)
    return " ".join(str(Text(part).render_as("text")) for part in parts).strip()


def author_year(entry: Any) -> str:
    """The label ``Surname, year`` / ``A and B, year`` / ``A et al., year`` of an entry."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(person) for person in people]
    if not names:
        names = [entry.fields.get("organization") or entry.key]
    if len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    year = entry.fields.get("year", "n.d.")
    return f"{who}, {year}"


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels in the form the text cites (see the module docstring)."""

    def format_labels(self, sorted_entries: Iterable[Any]) -> Iterator[str]:
        entries = list(sorted_entries)
        labels = [author_year(entry) for entry in entries]
        counts = Counter(labels)
        seen: Counter[str] = Counter()
        for label in labels:
            if counts[label] == 1:
                yield label
            else:
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label]]
                seen[label] += 1


class AuthorYearSortingStyle(SortingStyle):
    """Author, year, title, on the names as printed: without TeX markup or accents.

    pybtex's own key compares the raw BibTeX ("{\\c{S}}im{\\c{s}}ek", "{DCTLib}"),
    which puts every name written with braces after "Z".
    """

    def person_key(self, person: Any) -> str:
        printed = " ".join([_surname(person)] + [
            str(Text(part).render_as("text"))
            for part in list(person.rich_first_names) + list(person.rich_middle_names)])
        decomposed = unicodedata.normalize("NFD", printed)
        return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


class AuthorYearStyle(UnsrtStyle):
    """pybtex's ``unsrt`` formatting, sorted by author-year-title, author-year labels."""

    default_sorting_style = STYLE_NAME
    default_label_style = STYLE_NAME


register_plugin("pybtex.style.labels", STYLE_NAME, AuthorYearLabelStyle)
register_plugin("pybtex.style.sorting", STYLE_NAME, AuthorYearSortingStyle)
register_plugin("pybtex.style.formatting", STYLE_NAME, AuthorYearStyle)


def setup(app: Any) -> dict[str, Any]:
    """Nothing to connect: importing the module registered the two pybtex plugins."""
    return {
        "version": __version__,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
