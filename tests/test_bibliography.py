"""The bibliography: well-formed entries, every web source linked, author-year labels.

The chapters cite author-year (``{cite:p}`` / ``{cite:t}``); the bibliography page must
label its entries the same way (book/_ext/authoryear.py), and every entry must be cited.
"""

from __future__ import annotations

import html.parser
import re
import sys
import unicodedata
from pathlib import Path

import nbformat
import pybtex.errors
import pytest
from pybtex.database import parse_string

from bookbuild import ROOT, built_html

BIB = ROOT / "book" / "references.bib"
BOOK = ROOT / "book"
ROLE = re.compile(r"\{(?:cite|footcite)(?::[a-z]+)?\}`([^`]+)`")
# Entry types that have no journal, proceedings or publisher to find them by.
WEB_TYPES = {"misc", "online", "electronic", "www", "software", "dataset", "unpublished"}
VENUE_FIELDS = ("journal", "booktitle", "publisher", "school", "institution")
# "Saad and Solla, 1995", "Wilson, 1927", "Kunin et al., 2021", "van Laarhoven, 2017a".
LABEL = re.compile(r"^(?P<who>[^,]+?(?: and [^,]+| et al\.)?), (?P<year>\d{4})[a-z]?$")


def alphabetical(labels: list[str]) -> bool:
    """Whether labels run A to Z by first author, ignoring accents and case."""
    def first_author(label: str) -> str:
        name = re.split(r" et al\.| and |,", label)[0]
        decomposed = unicodedata.normalize("NFD", name)
        return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    names = [first_author(label) for label in labels]
    return names == sorted(names)


def bib_text() -> str:
    return BIB.read_text(encoding="utf-8")


def entry_chunks(text: str) -> list[str]:
    """The text of each entry: from one line opening with ``@`` to the next."""
    starts = [m.start() for m in re.finditer(r"^@", text, flags=re.M)]
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]


def parsed():
    """The bibliography parsed strictly (pybtex raises on a repeated key)."""
    pybtex.errors.set_strict_mode(True)
    return parse_string(bib_text(), "bibtex")


def cited_keys() -> dict[str, set[str]]:
    """Every key cited in a chapter notebook or a Markdown page, with where."""
    found: dict[str, set[str]] = {}
    for path in sorted(BOOK.glob("*.ipynb")) + sorted(BOOK.glob("*.md")):
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
            text = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
        else:
            text = path.read_text(encoding="utf-8")
        for match in ROLE.finditer(text):
            for key in match.group(1).split(","):
                found.setdefault(key.strip(), set()).add(path.name)
    return found


def test_every_entry_has_balanced_braces_and_one_key():
    chunks = entry_chunks(bib_text())
    assert chunks, f"no entries found in {BIB.name}"
    for chunk in chunks:
        head = chunk.splitlines()[0]
        depth = 0
        for char in chunk:
            depth += {"{": 1, "}": -1}.get(char, 0)
            assert depth >= 0, f"a closing brace without an opening one in {head!r}"
        assert depth == 0, f"{depth} unclosed brace(s) in the entry {head!r}"
        assert re.match(r"@\w+\{[\w:.-]+,\s*$", head), f"malformed entry head {head!r}"
        assert chunk.rstrip().endswith("}"), f"the entry {head!r} does not end with '}}'"


def test_keys_are_unique():
    keys = re.findall(r"^@\w+\{([^,\s]+),", bib_text(), flags=re.M)
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    assert not repeated, f"keys defined more than once in {BIB.name}: {repeated}"
    assert len(parsed().entries) == len(keys), "pybtex read a different number of entries"


def test_every_web_source_carries_its_url():
    missing = []
    for key, entry in parsed().entries.items():
        venue = [f for f in VENUE_FIELDS if f in entry.fields]
        arxiv = "arxiv" in (entry.fields.get("journal", "") + entry.fields.get(
            "howpublished", "")).lower()
        web = entry.type.lower() in WEB_TYPES or not venue or arxiv
        if web and not entry.fields.get("url", "").startswith("https://"):
            missing.append(key)
    assert not missing, f"web sources (no journal or venue, or arXiv) without an https url: {missing}"


def test_every_entry_is_cited_and_every_citation_exists():
    keys = set(parsed().entries.keys())
    cited = cited_keys()
    uncited = sorted(keys - set(cited))
    unknown = {key: sorted(where) for key, where in cited.items() if key not in keys}
    assert not uncited, f"entries in {BIB.name} that no page cites: {uncited}"
    assert not unknown, f"citations of keys {BIB.name} does not define: {unknown}"


def authoryear_module():
    sys.path.insert(0, str(BOOK / "_ext"))
    try:
        import authoryear
    finally:
        sys.path.pop(0)
    return authoryear


def test_label_style_gives_author_year_labels():
    from pybtex.plugin import find_plugin

    authoryear_module()
    style = find_plugin("pybtex.style.formatting", "authoryear")()
    entries = list(style.format_bibliography(parsed()))
    labels = {e.key: e.label for e in entries}
    assert labels["saad1995online"] == "Saad and Solla, 1995", labels["saad1995online"]
    assert labels["wilson1927probable"] == "Wilson, 1927", labels["wilson1927probable"]
    assert labels["kunin2021neural"] == "Kunin et al., 2021", labels["kunin2021neural"]
    assert labels["vanlaarhoven2017l2"] == "van Laarhoven, 2017", labels["vanlaarhoven2017l2"]
    assert labels["simsek2021geometry"] == "Şimşek et al., 2021", labels["simsek2021geometry"]
    repeated = sorted({v for v in labels.values() if list(labels.values()).count(v) > 1})
    assert not repeated, f"labels shared by two entries: {repeated}"
    assert alphabetical([e.label for e in entries]), [e.label for e in entries]
    years = {key: entry.fields["year"] for key, entry in parsed().entries.items()}
    for entry in entries:
        match = LABEL.match(entry.label)
        assert match, f"{entry.key}: label {entry.label!r} is not author-year"
        assert match["year"] == years[entry.key], f"{entry.key}: label year {match['year']}"


def test_label_style_tells_apart_two_entries_with_one_label():
    from pybtex.plugin import find_plugin

    authoryear_module()
    twin = """@article{a, author={Doe, Jane}, title={One}, journal={J}, year={2000}}
@article{b, author={Doe, Jane}, title={Two}, journal={J}, year={2000}}"""
    style = find_plugin("pybtex.style.formatting", "authoryear")()
    pybtex.errors.set_strict_mode(True)
    labels = [e.label for e in style.format_bibliography(parse_string(twin, "bibtex"))]
    assert labels == ["Doe, 2000a", "Doe, 2000b"], labels


class _Citations(html.parser.HTMLParser):
    """The labels and link targets of the citations on a built bibliography page."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: list[str] = []
        self.links: list[str] = []
        self._in_label = 0
        self._in_citation = 0
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "div" and "citation" in classes:
            self._in_citation = 1
        elif tag == "span" and "label" in classes and self._in_citation:
            self._in_label, self._text = 1, []
        elif tag == "span" and self._in_label:
            self._in_label += 1  # the brackets sit in spans of their own
        elif tag == "a" and self._in_citation and attrs.get("href", "").startswith("http"):
            self.links.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "span" and self._in_label:
            self._in_label -= 1
            if not self._in_label:
                self.labels.append("".join(self._text).strip().strip("[]"))

    def handle_data(self, data):
        if self._in_label:
            self._text.append(data)


def test_built_bibliography_page_has_author_year_labels_and_links(book_build):
    page = built_html(book_build) / "book" / "bibliography.html"
    parser = _Citations()
    parser.feed(page.read_text(encoding="utf-8"))
    entries = parsed().entries
    assert len(parser.labels) == len(entries), (
        f"the page lists {len(parser.labels)} entries, {BIB.name} has {len(entries)}")
    bad = [label for label in parser.labels if not LABEL.match(label)]
    assert not bad, f"labels on the bibliography page that are not author-year: {bad}"
    assert "Saad and Solla, 1995" in parser.labels, parser.labels[:5]
    assert alphabetical(parser.labels), f"the page is not in A-Z order: {parser.labels}"
    urls = {e.fields["url"] for e in entries.values() if "url" in e.fields}
    unlinked = sorted(urls - set(parser.links))
    assert not unlinked, f"URLs in {BIB.name} that the page does not link: {unlinked}"
