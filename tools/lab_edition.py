"""Build the lab edition: the chapters as notebooks that JupyterLab renders in full.

Usage: python tools/lab_edition.py [--out lab] [--student]   (``make lab`` writes and opens it)

JupyterLab shows markdown cells with jupyterlab-myst (the ``lab`` extra), which renders MyST
itself: headings, math (KaTeX), admonitions, exercises and solutions (sphinx-exercise's
directives), proofs (sphinx-proof's), tables, and references to targets in the same notebook
(``{eq}``, ``{prf:ref}``, ``{ref}``). What the book gets from Sphinx extensions it cannot know:
myst-nb's glued values (``{glue:text}`` shows its key), sphinxcontrib-bibtex's citations
(``{cite:p}`` shows its key with a warning sign), the glossary page behind ``{term}`` (no
target) and links to other pages (``{doc}``). From the one source (the chapters in ``book/``)
this writes ``<out>/`` with the student edition's machinery
(:func:`student_edition.write_edition`), every solution kept, each chapter's markdown rewritten
into MyST that jupyterlab-myst renders:

* ``{glue:text}`key:fmt``` becomes the value the chapter stored for ``key`` (its stored
  output, which the test suite verifies), formatted by myst-nb's own formatter;
* ``{cite:p}`` and ``{cite:t}`` become author-year text as in the book ("[Saxe et al., 2014]",
  "Saxe et al. [2014]"), and a "Works cited" cell at the end lists the chapter's entries;
* ``{term}`` stays, and a "Glossary" cell at the end defines the terms the chapter uses, so
  jupyterlab-myst links each use to its definition;
* ``{doc}`` becomes a link to the other file (JupyterLab opens it), titled as in the book;
  ``{doc}`bibliography``` links to the chapter's own "Works cited";
* ``{ref}``, ``{prf:ref}`` or ``{eq}`` to a label of another chapter becomes a link to that
  chapter (jupyterlab-myst resolves labels of the same notebook only).
"""
from __future__ import annotations

import argparse
import copy
import functools
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from student_edition import (  # noqa: E402
    REPO, _text, student_notebook, toc_notebooks, write_edition)

_ROLE = re.compile(r"\{(?P<role>[a-z]+(?::[a-z]*)?)\}`(?P<body>[^`]*)`")
_FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,}|:{3,})(?P<rest>.*)$")
_TARGET = re.compile(r"^\((?P<label>[\w.:-]+)\)=\s*$|^:label:\s*(?P<option>\S+)"
                     r"|^\$\$\s*\((?P<equation>[\w.:-]+)\)\s*$", re.MULTILINE)
_EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>$|~])")
WORKS_CITED = "lab-works-cited"


def glued_values(nb: dict) -> dict[str, str]:
    """Each value the notebook glued (myst-nb ``glue``): its stored ``text/plain``."""
    values = {}
    for cell in nb["cells"]:
        for output in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            scrap = output.get("metadata", {}).get("scrapbook")
            if not scrap:
                continue
            prefix = scrap.get("mime_prefix", "")
            text = output.get("data", {}).get(prefix + "text/plain")
            if text is not None:
                values[scrap["name"]] = "".join(text) if isinstance(text, list) else text
    return values


def glued_text(values: dict[str, str], body: str) -> str:
    """The text the book shows for ``{glue:text}`body``` (``key`` or ``key:format``)."""
    from myst_nb.core.variables import format_plain_text

    key, _, spec = body.partition(":")
    if key not in values:
        raise ValueError(f"{{glue:text}}`{body}`: the notebook stores no glued value {key!r} "
                         "(re-execute it)")
    return format_plain_text(values[key], spec or "s")


def paste_text(values: dict[str, str], body: str) -> str:
    """:func:`glued_text` as markdown (its markdown characters escaped)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", glued_text(values, body))


@functools.lru_cache(maxsize=None)
def _latex_text(latex: str) -> str:
    """BibTeX's LaTeX (accents, braces) as plain text."""
    from pybtex.backends.plaintext import Backend
    from pybtex.richtext import Text

    return Text.from_latex(latex).render(Backend())


@dataclass
class Bibliography:
    """References of ``book/references.bib``, as author-year citations and short entries."""

    path: Path = REPO / "book" / "references.bib"
    entries: dict = field(init=False)

    def __post_init__(self):
        from pybtex.database import parse_file

        self.entries = dict(parse_file(str(self.path)).entries)

    def _entry(self, key: str):
        if key not in self.entries:
            raise ValueError(f"citation {key!r} is not in {self.path.name}")
        return self.entries[key]

    def authors(self, key: str) -> str:
        """'Saxe', 'Saxe and Ganguli' or 'Saxe et al.', as sphinxcontrib-bibtex's author_year."""
        entry = self._entry(key)
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [_latex_text(" ".join(p.prelast_names + p.last_names)) for p in people]
        if not names:
            return _latex_text(entry.fields.get("title", key))
        return names[0] if len(names) == 1 else (
            " and ".join(names) if len(names) == 2 else f"{names[0]} et al.")

    def year(self, key: str) -> str:
        return self._entry(key).fields.get("year", "n.d.")

    def cite(self, role: str, body: str) -> str:
        """The text of ``{cite:p}`body``` (``[A, 2014; B, 2015]``) or ``{cite:t}`` (``A [2014]``).

        The brackets are sphinxcontrib-bibtex's author_year style, the book's.
        """
        keys = [k.strip() for k in body.split(",") if k.strip()]
        if role == "cite:t":
            return ", ".join(f"{self.authors(k)} [{self.year(k)}]" for k in keys)
        return "[" + "; ".join(f"{self.authors(k)}, {self.year(k)}" for k in keys) + "]"

    def reference(self, key: str) -> str:
        """One line of the works cited: authors (year). Title. Venue. Link."""
        entry = self._entry(key)
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [_latex_text(" ".join(p.first_names + p.middle_names + p.prelast_names
                                      + p.last_names)) for p in people]
        names = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)
        fields = entry.fields
        venue = next((fields[f] for f in ("journal", "booktitle", "publisher", "howpublished",
                                           "school", "institution") if f in fields), "")
        parts = [f"{names} ({self.year(key)})." if names else f"({self.year(key)}).",
                 f"*{_latex_text(fields.get('title', key))}*."]
        if venue:
            parts.append(_latex_text(venue) + ".")
        link = fields.get("url") or (f"https://doi.org/{fields['doi']}" if "doi" in fields else "")
        if link:
            parts.append(f"<{link}>")
        return " ".join(parts)


def glossary(path: Path = REPO / "book" / "glossary.md") -> dict[str, tuple[str, str]]:
    """The glossary's entries: lower-case term -> (term, definition lines, indented)."""
    text = path.read_text(encoding="utf-8")
    block = re.search(r"^```\{glossary\}\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    if block is None:
        raise ValueError(f"{path.name} has no {{glossary}} block")
    entries, terms, lines = {}, [], []
    for line in block.group(1).splitlines() + [""]:
        if line.strip() and not line[0].isspace():
            if lines:  # a new entry starts: store the previous one
                entries.update({t.lower(): (t, "\n".join(lines)) for t in terms})
                terms, lines = [], []
            terms.append(line.strip())
        elif line.strip() or lines:
            lines.append(line)
    entries.update({t.lower(): (t, "\n".join(lines).rstrip()) for t in terms})
    return entries


def document_titles(root: Path = REPO) -> dict[str, str]:
    """Each page of ``book/`` (name without suffix) -> its title, its first ``# `` heading."""
    import json

    titles = {}
    for path in sorted((root / "book").glob("*.*")):
        if path.suffix == ".ipynb":
            text = "\n".join(_text(c) for c in json.loads(path.read_text(encoding="utf-8"))
                             ["cells"] if c["cell_type"] == "markdown")
        elif path.suffix == ".md":
            text = path.read_text(encoding="utf-8")
        else:
            continue
        heading = re.search(r"^# (.+)$", text, re.MULTILINE)
        titles[path.stem] = heading.group(1).strip() if heading else path.stem
    return titles


def labels(nb: dict) -> set[str]:
    """Targets a notebook defines: ``(label)=`` lines, ``:label:`` options, ``$$ (label)``."""
    found = set()
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            found.update(next(filter(None, groups)) for groups in _TARGET.findall(_text(cell)))
    return found


@dataclass
class Book:
    """What rewriting one chapter needs to know about the others."""

    bibliography: Bibliography = field(default_factory=Bibliography)
    glossary: dict = field(default_factory=glossary)
    titles: dict = field(default_factory=document_titles)
    label_pages: dict = field(default_factory=dict)  # label -> page (notebook name) it is on
    notebooks: set = field(default_factory=set)  # names of the chapters' notebooks

    @classmethod
    def of(cls, root: Path = REPO) -> "Book":
        import json

        book = cls()
        for path in toc_notebooks(root):
            book.notebooks.add(path.stem)
            for label in labels(json.loads(path.read_text(encoding="utf-8"))):
                book.label_pages[label] = path.stem
        return book


def _definition(term: str, lines: str) -> str:
    """A glossary entry as a MyST definition list item (``term`` / ``: definition``)."""
    import textwrap

    body = textwrap.dedent(lines).strip().replace("\n", "\n  ")
    return f"{term}\n: {body}"


@dataclass
class _Chapter:
    """One chapter being rewritten: what it glued, and what it cites and uses."""

    book: Book
    values: dict
    own_labels: set
    cited: dict = field(default_factory=dict)  # key -> None, in order of first citation
    terms: dict = field(default_factory=dict)  # lower-case term -> None

    def role(self, match: re.Match) -> str:
        role, body = match.group("role"), match.group("body")
        explicit = _EXPLICIT.match(body)
        text, target = (explicit.group("text"), explicit.group("target")) if explicit else (
            "", body)
        if role in ("glue", "glue:", "glue:text"):
            return paste_text(self.values, body)
        if role in ("cite", "cite:p", "cite:t"):
            self.cited.update(dict.fromkeys(k.strip() for k in body.split(",") if k.strip()))
            return self.book.bibliography.cite("cite:t" if role == "cite:t" else "cite:p", body)
        if role == "term":
            if target.lower() not in self.book.glossary:
                raise ValueError(f"{{term}}`{body}`: no such term in the glossary")
            self.terms[target.lower()] = None
            return match.group(0)
        if role == "doc":
            if target == "bibliography":
                return f"[{text or self.book.titles[target]}](#{WORKS_CITED})"
            suffix = ".ipynb" if target in self.book.notebooks else ".md"
            return f"[{text or self.book.titles.get(target, target)}]({target}{suffix})"
        if (role in ("ref", "prf:ref", "numref", "eq") and target not in self.own_labels
                and target in self.book.label_pages):
            page = self.book.label_pages[target]
            return f"[{text or self.book.titles[page]}]({page}.ipynb)"
        return match.group(0)

    def markdown(self, text: str) -> str:
        """Rewrite the roles of one markdown cell, except inside code blocks."""
        out, open_fences = [], []  # (fence, is code) of each fence still open, innermost last
        for line in text.splitlines(keepends=True):
            fence = _FENCE.match(line)
            in_code = any(code for _, code in open_fences)
            if open_fences and line.strip() == open_fences[-1][0]:
                open_fences.pop()
            elif fence and not in_code and (fence["rest"].lstrip().startswith("{")
                                             or fence["fence"][0] != ":"):
                open_fences.append((fence["fence"], not fence["rest"].lstrip().startswith("{")))
            out.append(line if in_code else _ROLE.sub(self.role, line))
        return "".join(out)

    def back_matter(self) -> list[dict]:
        cells = []
        if self.terms:
            entries = "\n\n".join(_definition(*self.book.glossary[t]) for t in sorted(self.terms))
            cells.append(f"## Glossary\n\nThe terms this chapter uses (the book's glossary "
                         f"has them all).\n\n```{{glossary}}\n{entries}\n```\n")
        if self.cited:
            bib = self.book.bibliography
            items = sorted(self.cited, key=lambda k: (bib.authors(k).lower(), bib.year(k)))
            cells.append(f"({WORKS_CITED})=\n## Works cited\n\n" + "\n".join(
                f"* {bib.cite('cite:p', k)} {bib.reference(k)}" for k in items) + "\n")
        return [{"cell_type": "markdown", "id": f"lab-back-matter-{i}",
                 "metadata": {"tags": ["lab-edition"]}, "source": source}
                for i, source in enumerate(cells)]


def lab_notebook(nb: dict, book: Book | None = None) -> dict:
    """A copy of notebook ``nb`` whose markdown jupyterlab-myst renders in full."""
    book = Book.of() if book is None else book
    result = copy.deepcopy(nb)
    chapter = _Chapter(book, glued_values(nb), labels(nb))
    for cell in result["cells"]:
        if cell["cell_type"] == "markdown":
            cell["source"] = chapter.markdown(_text(cell))
    result["cells"] += chapter.back_matter()
    if not chapter.cited:  # no works cited of its own: the book's bibliography page
        for cell in result["cells"]:
            if cell["cell_type"] == "markdown":
                cell["source"] = cell["source"].replace(f"](#{WORKS_CITED})", "](bibliography.md)")
    return result


def write_lab_edition(out: Path, student: bool = False) -> list[Path]:
    """Write the lab edition to ``out``; return its notebooks.

    With ``student``, of the student edition: solutions removed first, as ``make student``
    removes them (:func:`student_edition.student_notebook`), and no instructor pages.
    """
    book = Book.of()
    if student:
        return write_edition(out, transform=lambda nb: lab_notebook(student_notebook(nb), book))
    return write_edition(out, transform=lambda nb: lab_notebook(nb, book), drop=())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="lab", help="output folder (default: lab)")
    parser.add_argument("--student", action="store_true",
                        help="of the student edition (no solutions), to hand out")
    args = parser.parse_args()
    out = (REPO / args.out) if not Path(args.out).is_absolute() else Path(args.out)
    notebooks = write_lab_edition(out, student=args.student)
    print(f"lab edition: {len(notebooks)} notebooks in {out / 'book'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
