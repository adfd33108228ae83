"""The lab edition (tools/lab_edition.py): chapters rewritten into MyST jupyterlab-myst renders."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import lab_edition as le  # noqa: E402
import student_edition as se  # noqa: E402

#: What jupyterlab-myst cannot render, so the lab edition must leave none of it.
UNRENDERED = ("{glue", "{cite", "{doc}")


@pytest.fixture(scope="module")
def book():
    return le.Book.of()


def _md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _glue(name, text, prefix=""):
    return {"cell_type": "code", "metadata": {}, "source": "", "execution_count": 1,
            "outputs": [{"output_type": "display_data", "data": {prefix + "text/plain": text},
                         "metadata": {"scrapbook": {"name": name, "mime_prefix": prefix}}}]}


def test_glued_values_are_read_from_the_stored_outputs_with_any_mime_prefix():
    nb = {"cells": [_glue("a", "0.12345"), _glue("b", ["'x", "y'"], prefix="application/x+")]}
    assert le.glued_values(nb) == {"a": "0.12345", "b": "'xy'"}


def test_glued_text_is_formatted_as_myst_nb_formats_it():
    values = {"a": "0.12345", "n": "35", "s": "'under_score'"}
    assert le.glued_text(values, "a:.2f") == "0.12"
    assert le.glued_text(values, "a:.0e") == "1e-01"
    assert le.glued_text(values, "n") == "35"
    assert le.glued_text(values, "s") == "under_score"  # quotes gone, as in the book
    assert le.paste_text(values, "s") == "under\\_score"  # and escaped for markdown
    with pytest.raises(ValueError, match="no glued value 'missing'"):
        le.glued_text(values, "missing:.2f")


def test_citations_read_as_in_the_book(book):
    bib = book.bibliography
    assert bib.cite("cite:t", "karpathy2016cs231n") == "Karpathy [2016]"
    assert bib.cite("cite:p", "karpathy2016cs231n, ng2004feature") == (
        "[Karpathy, 2016; Ng, 2004]")
    assert bib.authors("li2021why") == "Li et al."
    assert bib.authors("simsek2021geometry") == "Şimşek et al."  # LaTeX accents decoded
    assert bib.authors("lesswrong2024boring") == "Bushnaq"
    assert bib.reference("ng2004feature").startswith("Andrew Y. Ng (2004). *Feature Selection")
    with pytest.raises(ValueError, match="'nobody1900' is not in references.bib"):
        bib.cite("cite:p", "nobody1900")


def test_glossary_entries_are_read_with_their_definitions(book):
    term, definition = book.glossary["bypassed unit"]
    assert term == "Bypassed unit" and "active on every training point" in definition
    assert le._definition(term, definition).startswith("Bypassed unit\n: A ReLU unit")


def test_roles_are_rewritten_outside_code_and_inside_directives(book):
    nb = {"cells": [
        _glue("n", "35"),
        _md("(sec-here)=\n## Here\n\nLeft {glue:text}`n` dead {cite:p}`ng2004feature`, "
            "a {term}`dead <Dead unit>` one; see {ref}`sec-here` and {doc}`01_stall`, "
            "{doc}`glossary`, {doc}`bibliography`.\n\n"
            "```{exercise} Count {glue:text}`n:d`\n:label: ex-x\n\nDo it.\n```\n\n"
            "```python\nglue('n', 35)  # {glue:text}`n` stays in code\n```\n"),
    ]}
    out = le.lab_notebook(nb, book)
    text = out["cells"][1]["source"]
    assert "Left 35 dead [Ng, 2004], a {term}`dead <Dead unit>` one" in text
    assert "{ref}`sec-here`" in text  # a label of this notebook: jupyterlab-myst resolves it
    assert f"[{book.titles['01_stall']}](01_stall.ipynb)" in text
    assert "[Glossary](glossary.md)" in text and f"[Bibliography](#{le.WORKS_CITED})" in text
    assert "```{exercise} Count 35\n:label: ex-x" in text
    assert "# {glue:text}`n` stays in code" in text
    glossary, cited = (cell["source"] for cell in out["cells"][2:])
    assert "```{glossary}\nDead unit\n: A unit that wins no data point" in glossary
    assert cited.startswith(f"({le.WORKS_CITED})=\n## Works cited\n\n* [Ng, 2004] Andrew Y. Ng")
    assert nb["cells"][1]["source"].startswith("(sec-here)=")  # the input is left unchanged


def test_a_reference_to_another_chapter_becomes_a_link(book):
    label, page = next(iter(book.label_pages.items()))
    out = le.lab_notebook({"cells": [_md(f"As in {{ref}}`{label}`.")]}, book)
    assert out["cells"][0]["source"] == f"As in [{book.titles[page]}]({page}.ipynb)."


def test_a_chapter_that_cites_nothing_links_to_the_bibliography_page(book):
    out = le.lab_notebook({"cells": [_md("See the {doc}`bibliography`.")]}, book)
    assert [c["source"] for c in out["cells"]] == ["See the [Bibliography](bibliography.md)."]


def test_unknown_glossary_terms_and_glue_keys_are_errors(book):
    with pytest.raises(ValueError, match="no such term"):
        le.lab_notebook({"cells": [_md("A {term}`frobnication`.")]}, book)
    with pytest.raises(ValueError, match="re-execute"):
        le.lab_notebook({"cells": [_md("A {glue:text}`nothing`.")]}, book)


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab")
    return out, le.write_lab_edition(out)


def test_every_chapter_is_rewritten_completely(edition, book):
    out, written = edition
    sources = se.toc_notebooks(REPO)
    assert [p.name for p in written] == [p.name for p in sources]
    assert (out / "book" / "instructor.md").exists()  # the full edition: nothing dropped
    for source, target in zip(sources, written):
        original = json.loads(source.read_text(encoding="utf-8"))
        lab = json.loads(target.read_text(encoding="utf-8"))
        markdown = "\n".join(le._text(c) for c in lab["cells"] if c["cell_type"] == "markdown")
        left = [raw for raw in UNRENDERED if raw in markdown]
        assert not left, f"{target.name}: {left} left for jupyterlab-myst, which cannot render it"
        used = {t.lower() for t in re.findall(r"\{term\}`(?:[^`<]*<)?([^`>]+)>?`", markdown)}
        defined = {t.lower() for t in re.findall(r"^(\S.*)\n: ", markdown, re.MULTILINE)}
        assert used <= defined, f"{target.name}: terms without a definition: {used - defined}"
        code = [c for c in original["cells"] if c["cell_type"] == "code"]
        assert [c for c in lab["cells"] if c["cell_type"] == "code"] == code, target.name


def test_the_student_lab_edition_has_no_solutions(tmp_path):
    written = le.write_lab_edition(tmp_path, student=True)
    assert not (tmp_path / "book" / "instructor.md").exists()
    for target in written:
        cells = json.loads(target.read_text(encoding="utf-8"))["cells"]
        markdown = "\n".join(le._text(c) for c in cells if c["cell_type"] == "markdown")
        assert "{solution" not in markdown and not [raw for raw in UNRENDERED if raw in markdown]
        tags = [t for c in cells for t in c.get("metadata", {}).get("tags", [])]
        assert se.SOLUTION_TAG not in tags and se.STUB_TAG in tags, target.name
