"""The book builds strictly, offline, and refuses notebooks with broken stored outputs."""

from __future__ import annotations

import html.parser
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from bookbuild import ROOT, build, built_html, summary

MATHJAX = "_static/mathjax/es5/tex-chtml-full.js"
MATHJAX_FONT = "_static/mathjax/es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff"
WIDGET_MANAGER = "_static/html-manager/embed.js"
CDN_MARKERS = ("cdn.jsdelivr", "cdnjs", "unpkg")


def toc_files(toc_path: Path) -> list[str]:
    """Every file named in a Jupyter Book _toc.yml (root first)."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return [str(Path(f).with_suffix("")) for f in files]


class _Assets(html.parser.HTMLParser):
    """Collects what a page loads: script sources and stylesheet/preload links."""

    def __init__(self):
        super().__init__()
        self.scripts: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        if tag == "link" and attrs.get("href") and set(
            (attrs.get("rel") or "").split()
        ) & {"stylesheet", "preload", "modulepreload"}:
            self.links.append(attrs["href"])


def page_assets(page: Path) -> _Assets:
    parser = _Assets()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def cdn_problems(html_dir: Path) -> list[str]:
    problems = []
    for page in sorted(html_dir.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        rel = page.relative_to(html_dir)
        problems += [f"{rel}: mentions {m}" for m in CDN_MARKERS if m in text]
        assets = page_assets(page)
        problems += [f"{rel}: remote script {src}" for src in assets.scripts
                     if src.startswith(("http://", "https://", "//"))]
        problems += [f"{rel}: remote stylesheet {href}" for href in assets.links
                     if href.startswith(("http://", "https://", "//"))]
    return problems


# --------------------------------------------------------------------------------------
# The real book
# --------------------------------------------------------------------------------------


# The strict build of the real book (`book_build`) is a session fixture in tests/conftest.py,
# shared with tests/test_browser.py so the book is built only once.


def test_book_builds_strictly(book_build):
    result, _ = book_build
    assert result.returncode == 0, summary(result)


def test_every_toc_page_is_built(book_build):
    html_dir = built_html(book_build)
    pages = toc_files(ROOT / "_toc.yml")
    assert "book/status" in pages
    missing = [p for p in pages if not (html_dir / f"{p}.html").is_file()]
    assert not missing, f"no HTML for {missing}"


def test_no_page_uses_a_cdn(book_build):
    html_dir = built_html(book_build)
    assert list(html_dir.rglob("*.html")), "nothing was built"
    assert cdn_problems(html_dir) == []


def test_vendored_assets_are_in_the_build(book_build):
    html_dir = built_html(book_build)
    for asset in (MATHJAX, MATHJAX_FONT, WIDGET_MANAGER):
        assert (html_dir / asset).is_file(), asset
    assert list((html_dir / "_static/html-manager").glob("*.woff2"))
    # Loaded only where needed, never on every page (Jupyter Book's _static/ pitfall).
    plain_page = page_assets(html_dir / "book/bibliography.html").scripts
    assert not any("html-manager/" in s or "mathjax/" in s for s in plain_page)


def test_status_page_lists_every_notebook(book_build):
    html_dir = built_html(book_build)
    status = (html_dir / "book/status.html").read_text(encoding="utf-8")
    assert 'class="course-status' in status
    notebooks = [p for p in toc_files(ROOT / "_toc.yml")
                 if (ROOT / f"{p}.ipynb").is_file()]
    for page in notebooks:
        assert f'href="{Path(page).name}.html"' in status, page


# --------------------------------------------------------------------------------------
# Tiny books in a temporary folder: the wiring, the status table and the error guard
# --------------------------------------------------------------------------------------


def _timing(start: str, end: str) -> dict:
    return {"execution": {"iopub.execute_input": start, "shell.execute_reply": end}}


def _notebook(title: str, cells: list[nbformat.NotebookNode], executed: dict | None = None):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\nMath: $w_1 w_2 = c$.")] + cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    if executed:
        nb.metadata["symcourse"] = {"executed": executed}
    return nb


def _code(source: str, count: int | None, outputs=(), metadata=None):
    cell = nbformat.v4.new_code_cell(source, execution_count=count, outputs=list(outputs))
    cell.metadata.update(metadata or {})
    return cell


def _stdout(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


WIDGET_STATE = {
    "application/vnd.jupyter.widget-state+json": {
        "version_major": 2, "version_minor": 0,
        "state": {
            "m1": {"model_name": "LayoutModel", "model_module": "@jupyter-widgets/base",
                   "model_module_version": "2.0.0", "state": {}},
            "m2": {"model_name": "SliderStyleModel",
                   "model_module": "@jupyter-widgets/controls",
                   "model_module_version": "2.0.0", "state": {"description_width": ""}},
            "m3": {"model_name": "FloatSliderModel",
                   "model_module": "@jupyter-widgets/controls",
                   "model_module_version": "2.0.0",
                   "state": {"description": "lr", "layout": "IPY_MODEL_m1",
                             "style": "IPY_MODEL_m2", "value": 0.3, "max": 1.0}},
        },
    }
}


def _widget_output():
    return nbformat.v4.new_output(
        "execute_result", execution_count=2,
        data={"text/plain": "FloatSlider(value=0.3, description='lr', max=1.0)",
              "application/vnd.jupyter.widget-view+json": {
                  "version_major": 2, "version_minor": 0, "model_id": "m3"}})


def make_tiny_book(folder: Path, notebooks: dict[str, nbformat.NotebookNode]) -> Path:
    """A book with the repository's _config.yml, book/_ext, book/_vendor and book/_theme."""
    (folder / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", folder / "_config.yml")
    for name in ("_ext", "_vendor", "_theme"):
        shutil.copytree(ROOT / "book" / name, folder / "book" / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("status.md", "references.bib"):
        shutil.copy(ROOT / "book" / name, folder / "book" / name)
    (folder / "book" / "intro.md").write_text("# Tiny book\n\nFor tests.\n")
    chapters = [{"file": f"book/{stem}"} for stem in notebooks] + [{"file": "book/status"}]
    (folder / "_toc.yml").write_text(yaml.safe_dump(
        {"format": "jb-book", "root": "book/intro", "chapters": chapters}))
    for stem, nb in notebooks.items():
        nbformat.write(nb, folder / "book" / f"{stem}.ipynb")
    return folder


def test_tiny_book_wiring_and_status_table(tmp_path):
    fast = _notebook("Fast chapter", [
        _code("print('hi')", 1, [_stdout("hi\n")],
              _timing("2026-01-01T10:00:00.000Z", "2026-01-01T10:00:01.000Z")),
        _code("slider", 2, [_widget_output()],
              _timing("2026-01-01T10:00:01.500Z", "2026-01-01T10:00:12.750Z")),
        _code("", None),  # an empty cell never run is fine
    ], executed={"date": "2026-01-01T10:00:13+00:00", "commit": "abc1234",
                 "seconds": 12.8, "python": "3.11.7", "torch": "2.13.0"})
    fast.metadata["widgets"] = WIDGET_STATE
    slow = _notebook("Slow chapter", [
        _code("print(1)", 1, [_stdout("1\n")],
              _timing("2026-01-01T10:00:00Z", "2026-01-01T10:01:30.500Z")),
        _code("1 / 0", 2, [nbformat.v4.new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])],
            {"tags": ["raises-exception"]}),  # a deliberate, tagged error is allowed
    ])
    source = make_tiny_book(tmp_path / "src", {"fast": fast, "slow": slow})
    # With a _static/ folder next to _config.yml, Jupyter Book would add every .js under
    # html_static_path (the vendored MathJax and widget manager) to every page.
    (source / "_static").mkdir()
    (source / "_static" / "custom.css").write_text("/* a custom style */\n")
    result = build(source, tmp_path / "out")
    assert result.returncode == 0, summary(result)
    html_dir = tmp_path / "out" / "_build" / "html"

    scripts = page_assets(html_dir / "book/fast.html").scripts
    # Explorers show their offline control in the book (the widget view is not rendered,
    # _config.yml nb_mime_priority_overrides), so no page loads the 1.9 MB widget manager.
    assert not any(WIDGET_MANAGER in s for s in scripts), scripts
    assert any(s.startswith(f"../{MATHJAX}") for s in scripts), scripts
    assert not any("thebe" in s for s in scripts), scripts
    page = (html_dir / "book/fast.html").read_text(encoding="utf-8")
    assert "application/vnd.jupyter.widget-state+json" in page
    assert "data-jupyter-widgets-cdn" not in page
    assert cdn_problems(html_dir) == []

    status_scripts = page_assets(html_dir / "book/status.html").scripts
    assert not any("html-manager/" in s or "mathjax/" in s for s in status_scripts)
    assert any("custom.css" in href for href in page_assets(html_dir / "book/status.html").links)

    status = (html_dir / "book/status.html").read_text(encoding="utf-8")
    rows = status.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]
    assert len(rows) == 2
    assert "Fast chapter" in rows[0] and "Slow chapter" in rows[1]  # toc order
    for cell in ("<p>12.8</p>", "<p>✓</p>", "<p>2026-01-01 10:00 UTC</p>",
                 "<p>abc1234</p>", "<p>3.11.7 / 2.13.0</p>"):
        assert cell in rows[0], (cell, rows[0])
    for cell in ("<p>90.5</p>", "<p>✗</p>", "<p>not recorded</p>"):
        assert cell in rows[1], (cell, rows[1])


def test_stored_error_or_unrun_cell_fails_the_build(tmp_path):
    raised = _notebook("Raised", [
        _code("x = 1", 1),
        _code("1 / 0", 2, [nbformat.v4.new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])]),
    ])
    unrun = _notebook("Half run", [_code("x = 1", 1), _code("y = 2", None)])
    source = make_tiny_book(tmp_path / "src", {"raised": raised, "unrun": unrun})
    result = build(source, tmp_path / "out")
    report = result.stdout + result.stderr
    assert result.returncode != 0, report
    assert "Notebook check failed" in report
    assert ("book/raised.ipynb: cell 2 (nbval: Cell 1) stores an error output: "
            "ZeroDivisionError: division by zero") in report
    assert ("book/unrun.ipynb: cell 2 (nbval: Cell 1) was never executed "
            "(execution_count is null)") in report
    assert not (tmp_path / "out" / "_build" / "html" / "book" / "raised.html").exists()
