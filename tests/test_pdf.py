"""``make pdf`` (tools/book_pdf.py): the book printed to one PDF, offline, with Chromium.

Printing the whole book takes minutes, so this test prints a small book made of the welcome
page, one chapter and the exercise index, in both editions' forms: pages counted, math
typeset (no TeX source left, MathJax's glyphs embedded), every figure present, solutions shown
only when asked for.
"""
from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import book_pdf  # noqa: E402
import student_edition  # noqa: E402

CHAPTER = "03_symmetry"
pytestmark = pytest.mark.skipif(not Path(book_pdf.CHROMIUM).is_file(),
                                reason="needs Debian's chromium (make chromium)")


def _small_book(root: Path, notebook: dict) -> None:
    shutil.copy2(REPO / "_config.yml", root / "_config.yml")
    shutil.copytree(REPO / "book", root / "book",
                    ignore=shutil.ignore_patterns("*.ipynb", "instructor.md", "__pycache__"))
    (root / "book" / f"{CHAPTER}.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nparts:\n  - caption: Chapters\n    chapters:\n"
        f"      - file: book/{CHAPTER}\n  - caption: Back matter\n    chapters:\n"
        "      - file: book/exercises\n", encoding="utf-8")


def _figures(notebook: dict) -> int:
    return sum("image/png" in output.get("data", {}) for cell in notebook["cells"]
               for output in cell.get("outputs", []))


@pytest.fixture(scope="module", params=["instructor", "student"])
def printed(request, tmp_path_factory):
    full = json.loads((REPO / "book" / f"{CHAPTER}.ipynb").read_text(encoding="utf-8"))
    notebook = full if request.param == "instructor" else student_edition.student_notebook(full)
    root = tmp_path_factory.mktemp(request.param)
    _small_book(root, notebook)
    pdf = root / "out" / "book.pdf"
    html = book_pdf.build_single_page(root, root / "site")
    facts = book_pdf.print_pdf(html, pdf, expand=request.param == "instructor")
    return request.param, pdf, facts, notebook


def test_pages_math_and_figures(printed):
    from pypdf import PdfReader
    edition, pdf, facts, notebook = printed
    reader = PdfReader(str(pdf))
    assert len(reader.pages) == facts["pages"] >= 10, f"{edition}: only {len(reader.pages)} pages"
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    assert facts["formulas"] > 50 and facts["raw_tex"] == 0, facts
    assert not re.search(r"\\frac|\\mathbb|\\langle|\$\$", text), "TeX source printed as text"
    type3 = sum(1 for page in reader.pages
                for font in ((page.get("/Resources") or {}).get("/Font") or {}).values()
                if font.get_object().get("/Subtype") == "/Type3")
    assert type3 > 0, "no MathJax glyphs embedded: math was not typeset"
    images = sum(len(page.images) for page in reader.pages)
    assert not facts["missing_images"] and images >= _figures(notebook) > 0, \
        f"{images} images in the PDF for {_figures(notebook)} figures"
    flat = " ".join(text.split())
    assert "Exercise 1.1" in flat, "exercises are numbered chapter.number by the table of contents"
    assert not re.search(r"(?i)exercise Exercise", flat), "doubled word before an exercise link"


def test_solutions_only_in_the_instructor_version(printed):
    from pypdf import PdfReader
    edition, pdf, facts, _ = printed
    text = " ".join(page.extract_text() or "" for page in PdfReader(str(pdf)).pages)
    if edition == "instructor":
        assert facts["solutions"] >= 5 and "Solution to" in text
    else:
        assert facts["solutions"] == 0 and "Solution to" not in text
