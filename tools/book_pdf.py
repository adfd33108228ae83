"""Print the whole book to one PDF, offline: ``make pdf`` (both editions) or
``python tools/book_pdf.py --edition instructor|student [--out FILE]``.

1. Jupyter Book's ``singlehtml`` builder writes the book as one HTML page in reading order (the
   table of contents), from the stored outputs; the student edition is written first with
   ``tools/student_edition.py`` (solutions removed, the instructor guide left out).
2. Playwright for Python opens that page in Debian's Chromium (``/usr/bin/chromium``; Playwright
   never downloads a browser here), served from 127.0.0.1, waits for MathJax to typeset every
   formula and for every image, opens every solution drop-down (instructor edition), hides the
   navigation, and prints to A4 with ``page.pdf``.
3. Next to the PDF, ``FILE.json`` records what was printed: pages, typeset formulas, images
   loaded and missing, raw TeX left over, solutions shown. ``tests/test_pdf.py`` checks it
   against the PDF itself.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
#: The one page singlehtml writes: the root document of _toc.yml (index.html redirects to it).
#: Its links are relative to the output folder, so it is printed from a copy placed there.
ROOT_PAGE = "book/intro.html"
PRINTED_PAGE = "whole-book.html"

_PREPARE = """async (expand) => {
  if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
    await window.MathJax.startup.promise;
  }
  const imgs = Array.from(document.images);
  for (const img of imgs) { img.loading = 'eager'; }
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done, {once: true});
    img.addEventListener('error', done, {once: true});
    setTimeout(done, 10000);
  })));
  let solutions = 0;
  if (expand) {
    document.querySelectorAll('details').forEach(d => { d.open = true; });
    document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
    document.querySelectorAll('.dropdown, .solution').forEach(e => {
      e.classList.remove('toggle-hidden'); });
    solutions = document.querySelectorAll('.solution').length;
  }
  const style = document.createElement('style');
  style.textContent = `
    .bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .header-article,
    .bd-footer-article, .prev-next-area, .toggle-button, button.toggle-button,
    .jupyter-widgets, .widget-box { display: none !important; }
    .bd-main .bd-content .bd-article-container { max-width: 100% !important; }
    .toggle-hidden { display: block !important; visibility: visible !important; }
    pre { white-space: pre-wrap !important; word-break: break-word; }
    img { max-width: 100% !important; page-break-inside: avoid; }`;
  document.head.appendChild(style);
  // Each chapter and back-matter page starts on a new sheet.
  document.querySelectorAll('span[id^="document-"]').forEach((marker, i) => {
    const next = marker.nextElementSibling;
    if (i > 0 && next) next.style.breakBefore = 'page';
  });
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style').forEach(e => e.remove());
  const text = clone.textContent;
  return {
    formulas: document.querySelectorAll('mjx-container').length,
    images: imgs.filter(i => i.naturalWidth > 0).length,
    missing_images: imgs.filter(i => i.naturalWidth === 0).map(i => i.src),
    raw_tex: (text.match(/\\\\\\(|\\\\\\[|\\$\\$/g) || []).length,
    solutions,
  };
}"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def build_single_page(root: Path, out: Path) -> Path:
    """The book under ``root`` as one HTML page (``singlehtml`` builder); returns its folder."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    run = subprocess.run([str(jupyter_book), "build", str(root), "--builder", "custom",
                          "--custom-builder", "singlehtml", "--path-output", str(out)],
                         capture_output=True, text=True)
    html = out / "_build" / "singlehtml"
    if run.returncode or not (html / "index.html").exists():
        raise SystemExit(f"singlehtml build failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    return html


def print_pdf(html: Path, pdf: Path, expand: bool) -> dict:
    """Print ``html/index.html`` to ``pdf``; return what was printed."""
    from playwright.sync_api import sync_playwright

    pdf.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(html / ROOT_PAGE, html / PRINTED_PAGE)
    with serve(html) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url)
                   or route.request.url.startswith("data:") else route.abort())
        page.goto(url + PRINTED_PAGE, wait_until="load", timeout=300_000)
        facts = page.evaluate(_PREPARE, expand)
        page.emulate_media(media="print")
        page.pdf(path=str(pdf), format="A4", print_background=True,
                 margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"},
                 display_header_footer=True, header_template="<span></span>",
                 footer_template="<div style='font-size:8px;width:100%;text-align:center'>"
                                 "<span class='pageNumber'></span></div>")
        browser.close()
    from pypdf import PdfReader
    facts["pages"] = len(PdfReader(str(pdf)).pages)
    pdf.with_suffix(".json").write_text(json.dumps(facts, indent=1) + "\n", encoding="utf-8")
    return facts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edition", choices=("instructor", "student"), default="instructor")
    parser.add_argument("--out", type=Path, help="PDF file (default _build/pdf/<edition>.pdf)")
    parser.add_argument("--root", type=Path, default=REPO,
                        help="book to print (a folder with _config.yml and _toc.yml)")
    args = parser.parse_args()
    work = REPO / "_build" / "pdf" / f"{args.edition}-site"
    pdf = (args.out or REPO / "_build" / "pdf" / f"{args.edition}.pdf").resolve()
    root = args.root.resolve()
    if args.edition == "student":
        sys.path.insert(0, str(REPO / "tools"))
        from student_edition import write_edition
        if root != REPO:
            parser.error("--edition student prints this repository's student edition")
        root = REPO / "_build" / "pdf" / "student-source"
        write_edition(root)
    if work.exists():
        shutil.rmtree(work)
    facts = print_pdf(build_single_page(root, work), pdf, expand=args.edition == "instructor")
    print(f"{pdf}: {facts['pages']} pages, {facts['formulas']} formulas, {facts['images']} "
          f"images ({len(facts['missing_images'])} missing), solutions shown: {facts['solutions']}")
    return 0 if not facts["missing_images"] and not facts["raw_tex"] else 1


if __name__ == "__main__":
    sys.exit(main())
