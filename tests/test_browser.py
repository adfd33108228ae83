"""The built book, as a reader's browser shows it (Playwright driving Debian's Chromium).

The book is built strictly once (``book_build`` in tests/conftest.py), served from
127.0.0.1 by Python's ``http.server``, and every HTML page is opened in one headless
Chromium. For each page the test checks:

* no JavaScript console errors, no uncaught page errors, no failed local request;
* offline by construction: every request not addressed to the local server is aborted
  and reported by URL;
* math is typeset: once MathJax has finished, no raw ``\\(``, ``\\[`` or ``$$`` is left in
  the visible text (code blocks excepted), and pages with math contain ``mjx-container``;
* every ``<img>`` has loaded and has alt text;
* every widget output shows a rendered widget or a static fallback image;
* page weight: the page's HTML plus the images it shows (shared ``_static/`` assets
  excepted) stays under ``PAGE_WEIGHT_LIMIT``;
* every internal link answers HTTP 200 (each URL checked once, from Python);
* nothing clipped at 1280 px: a display equation, code block or output wider than its box
  must scroll visibly and be keyboard-reachable (``overflow-x: auto`` and a tab stop), an
  equation number must not cover its equation, and a figure's smallest text (the course
  style's smallest font, :data:`symcourse.plots.STYLE`) must render at >= ``MIN_TEXT_PX``
  at the width the page shows it (from the PNG's stored resolution);
* every offline explorer (``symcourse.widgets.Explorer.static_html``) changes its figure
  when each slider moves, with no request leaving the page.

Separately, navigation: at 390 px (phone) and 1280 px (desktop), in light and dark mode, a
chapter has one header bar, and its navigation and contents buttons open their panels.

A full-page screenshot of every page is saved under ``_build/screenshots/`` for a person
to look at. Chromium is Debian's (``/usr/bin/chromium``, installed by ``make test`` when
missing); Playwright never downloads a browser here.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import struct
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bookbuild import ROOT, built_html

import sys  # noqa: E402

sys.path.insert(0, str(ROOT / "tools"))
from book_pdf import serve  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SCREENSHOT_DIR = ROOT / "_build" / "screenshots"
PAGE_WEIGHT_LIMIT = 3 * 1024 * 1024  # bytes: a page's HTML + its own images
#: Sphinx boilerplate pages: visited too (cheap), but they have no content of their own.
BOILERPLATE = {"genindex.html", "search.html"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
RAW_TEX = ("\\(", "\\[", "$$")
#: Sphinx marks every math span/div it hands to MathJax so (MathJax keeps the element).
MATH_SELECTOR = ".math.notranslate"
#: Smallest readable figure text, in CSS pixels at the width the page shows the figure.
MIN_TEXT_PX = 8.0

# --------------------------------------------------------------------------------------
# Serving a folder
# --------------------------------------------------------------------------------------


# serve(directory): the same local server prints the book to PDF (tools/book_pdf.py).


# --------------------------------------------------------------------------------------
# What one page shows: collected in the browser, judged by the checker functions below
# --------------------------------------------------------------------------------------


@dataclass
class PageReport:
    url: str
    blocked: list[str] = field(default_factory=list)          # non-local requests, aborted
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)  # local, status >= 400 or failed
    text: str = ""                  # body.innerText with pre/code hidden, after MathJax
    has_math_source: bool = False   # the page hands math to MathJax (Sphinx's math markup)
    mathjax_loaded: bool = False
    mjx_count: int = 0
    images: list[dict] = field(default_factory=list)   # {src, alt, width}
    widgets: list[dict] = field(default_factory=list)  # {rendered, fallback, what}
    links: set[str] = field(default_factory=set)       # same-origin, fragment removed
    overflow: list[dict] = field(default_factory=list)  # boxes wider than they show
    figures: list[dict] = field(default_factory=list)   # {src, natural, shown}


_WAIT_FOR_PAGE = """async () => {
  if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
    await window.MathJax.startup.promise;
  }
  const imgs = Array.from(document.images);
  for (const img of imgs) { if (img.loading === 'lazy') img.loading = 'eager'; }
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done, {once: true});
    img.addEventListener('error', done, {once: true});
    setTimeout(done, 5000);
  })));
  return !!(window.MathJax && window.MathJax.startup);
}"""

_WIDGETS_SETTLED = """() => {
  const views = document.querySelectorAll('script[type="%s"]');
  // Nothing to wait for without views, or without a widget manager on the page.
  if (!views.length || !document.querySelector('script[src*="html-manager"]')) return true;
  // The widget manager renders each view into an element placed next to its script.
  return Array.from(views).every(s => s.parentElement &&
    s.parentElement.querySelector('.jupyter-widgets:not(script), .widget-box, [class*="widget-"]'));
}""" % WIDGET_VIEW

_COLLECT = """() => {
  const visible = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const images = Array.from(document.images).map(img => ({
    src: img.currentSrc || img.src, alt: (img.getAttribute('alt') || '').trim(),
    width: img.naturalWidth}));
  const links = Array.from(document.querySelectorAll('a[href]')).map(a => a.href);
  const widgets = [];
  const seen = new Set();
  const outputs = new Set();
  document.querySelectorAll('script[type="%s"], .jupyter-widgets').forEach(el => {
    const box = el.closest('.cell_output, .output, .jp-OutputArea-output') || el.parentElement;
    if (!box || outputs.has(box)) return;
    outputs.add(box);
    const rendered = Array.from(box.querySelectorAll(
        '.jupyter-widgets, .widget-box, [class*="widget-"], .lm-Widget'))
      .some(w => w.tagName !== 'SCRIPT' && visible(w));
    // A static fallback: a loaded image in the same output, or right after it.
    let fallback = Array.from(box.querySelectorAll('img')).some(i => i.naturalWidth > 0);
    let next = box.nextElementSibling;
    for (let k = 0; !fallback && next && k < 3; k++, next = next.nextElementSibling) {
      fallback = Array.from(next.tagName === 'IMG' ? [next] : next.querySelectorAll('img'))
        .some(i => i.naturalWidth > 0);
    }
    widgets.push({rendered, fallback, what: (box.id || box.className || box.tagName).toString().slice(0, 80)});
  });
  const mjx = document.querySelectorAll('mjx-container').length;
  const hasMath = !!document.querySelector('%s');
  const hide = document.createElement('style');
  hide.textContent = 'pre, code { display: none !important; }';
  document.head.appendChild(hide);
  const text = document.body.innerText;
  hide.remove();
  return {images, links, widgets, mjx, text, hasMath};
}""" % (WIDGET_VIEW, MATH_SELECTOR)

_LAYOUT = """() => {
  const out = [];
  const name = el => (el.closest('section[id]') || {id: ''}).id + ' ' + el.tagName.toLowerCase()
    + ': ' + (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60);
  document.querySelectorAll('div.math > mjx-container, div.highlight pre, div.cell_output pre,'
                            + ' div.cell_output, div.math').forEach(el => {
    if (!el.getClientRects().length) return;  // hidden (e.g. a closed toggle)
    const style = getComputedStyle(el);
    const wide = el.scrollWidth > el.clientWidth + 1;
    if (wide) out.push({what: name(el), scroll: ['auto', 'scroll'].includes(style.overflowX),
                        tab: el.tabIndex >= 0, sw: el.scrollWidth, cw: el.clientWidth});
  });
  document.querySelectorAll('div.math').forEach(div => {
    const eq = div.querySelector(':scope > mjx-container'), no = div.querySelector('.eqno');
    if (!eq || !no || !no.getClientRects().length) return;
    const a = eq.getBoundingClientRect(), b = no.getBoundingClientRect();
    if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom && b.top < a.bottom)
      out.push({what: name(div) + ' (number covers equation)', overlap: true});
  });
  const figures = Array.from(document.querySelectorAll('div.cell_output img, figure img'))
    .filter(img => img.naturalWidth > 0 && img.getClientRects().length)
    .map(img => ({src: img.currentSrc || img.src, natural: img.naturalWidth,
                  shown: img.getBoundingClientRect().width}));
  return {overflow: out, figures};
}"""


def visit(page, url: str, report: PageReport, screenshot: Path | None = None) -> PageReport:
    """Open ``url`` in ``page`` (whose listeners fill ``report``) and collect what it shows."""
    response = page.goto(url, wait_until="load")
    if response is not None and response.status >= 400:
        report.failed_requests.append(f"{response.status} {url}")
    page.wait_for_load_state("networkidle")
    report.mathjax_loaded = page.evaluate(_WAIT_FOR_PAGE)
    with contextlib.suppress(Exception):  # judged below from what was rendered
        page.wait_for_function(_WIDGETS_SETTLED, timeout=10_000)
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    data = page.evaluate(_COLLECT)
    report.images, report.widgets, report.mjx_count = data["images"], data["widgets"], data["mjx"]
    report.text, report.has_math_source = data["text"], data["hasMath"]
    layout = page.evaluate(_LAYOUT)
    report.overflow, report.figures = layout["overflow"], layout["figures"]
    origin = urllib.parse.urlsplit(url)
    for link in data["links"]:
        parts = urllib.parse.urlsplit(link)
        if (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc):
            report.links.add(urllib.parse.urlunsplit(parts._replace(fragment="")))
    return report


class Browser:
    """One Chromium, one context, offline: only ``base_url`` may be requested."""

    def __init__(self, playwright, base_url: str):
        self.base = urllib.parse.urlsplit(base_url)
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.set_default_timeout(120_000)  # a busy shared machine can be slow
        self.report: PageReport | None = None
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda exc: self._add("page_errors", str(exc)))
        self.page.on("requestfailed", self._on_failed)
        self.page.on("response", lambda resp: self._add(
            "failed_requests", f"{resp.status} {resp.url}") if resp.status >= 400 else None)

    def _local(self, url: str) -> bool:
        parts = urllib.parse.urlsplit(url)
        return parts.scheme in ("data", "blob", "about") or (
            parts.scheme == self.base.scheme and parts.netloc == self.base.netloc)

    def _add(self, kind: str, text: str) -> None:
        if self.report is not None:
            getattr(self.report, kind).append(text)

    def _route(self, route):
        if self._local(route.request.url):
            route.continue_()
        else:
            self._add("blocked", route.request.url)
            route.abort()

    def _on_failed(self, request):
        # Local only (blocked URLs are reported as such), and once per URL: a 404
        # response is reported already, its request then also "fails" as aborted.
        if self.report is None or not self._local(request.url):
            return
        if not any(text.endswith(" " + request.url) for text in self.report.failed_requests):
            self._add("failed_requests", f"{request.failure} {request.url}")

    def _on_console(self, message):
        if message.type == "error":
            where = message.location or {}
            self._add("console_errors", f"{message.text} ({where.get('url', '')})".strip())

    def check(self, url: str, screenshot: Path | None = None) -> PageReport:
        self.report = PageReport(url)
        try:
            return visit(self.page, url, self.report, screenshot)
        finally:
            self.report = None

    def close(self):
        self.context.close()
        self.browser.close()


@contextlib.contextmanager
def chromium(base_url: str):
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium "
                    "(apt-get install -y chromium, needs root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = Browser(playwright, base_url)
        try:
            yield browser
        finally:
            browser.close()


# --------------------------------------------------------------------------------------
# Checker functions: each returns a list of problems (empty when the page is fine)
# --------------------------------------------------------------------------------------


def offline_problems(report: PageReport) -> list[str]:
    return [f"requested a non-local URL (blocked): {url}" for url in report.blocked]


def error_problems(report: PageReport) -> list[str]:
    return ([f"console error: {text}" for text in report.console_errors]
            + [f"page error: {text}" for text in report.page_errors]
            + [f"failed request: {text}" for text in report.failed_requests])


def math_problems(report: PageReport) -> list[str]:
    problems = []
    for delimiter in RAW_TEX:
        at = report.text.find(delimiter)
        if at >= 0:
            context = report.text[max(0, at - 30): at + 40].replace("\n", " ")
            problems.append(f"raw TeX {delimiter!r} left in the text: ...{context}...")
    if report.has_math_source and not report.mathjax_loaded:
        problems.append("the page has math but MathJax did not load")
    elif report.has_math_source and report.mjx_count == 0:
        problems.append("the page has math but no mjx-container was rendered")
    return problems


def image_problems(report: PageReport) -> list[str]:
    problems = []
    for image in report.images:
        if not image["width"]:
            problems.append(f"image not loaded: {image['src']}")
        if not image["alt"]:
            problems.append(f"image without alt text: {image['src']}")
    return problems


def widget_problems(report: PageReport) -> list[str]:
    return [f"widget output shows nothing (no rendered widget, no fallback image): {w['what']}"
            for w in report.widgets if not (w["rendered"] or w["fallback"])]


def local_file(url: str, base_url: str, html_dir: Path) -> Path | None:
    """The file under ``html_dir`` that a local URL serves (None for other URLs)."""
    if not url.startswith(base_url):
        return None
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    return html_dir / path.lstrip("/")


def page_weight(report: PageReport, base_url: str, html_dir: Path) -> int:
    """Bytes of the page's HTML plus the images it shows, shared ``_static/`` excepted."""
    files = {local_file(report.url, base_url, html_dir)}
    for image in report.images:
        path = local_file(image["src"], base_url, html_dir)
        if path is not None and "_static" not in path.relative_to(html_dir).parts:
            files.add(path)
    return sum(p.stat().st_size for p in files if p is not None and p.is_file())


def weight_problems(report: PageReport, base_url: str, html_dir: Path,
                    limit: int = PAGE_WEIGHT_LIMIT) -> list[str]:
    weight = page_weight(report, base_url, html_dir)
    return ([f"page weight {weight / 1e6:.2f} MB (HTML + own images) exceeds "
             f"{limit / 1e6:.2f} MB"] if weight > limit else [])


def link_problems(links: dict[str, set[str]]) -> list[str]:
    """Check every link once (HEAD, then GET if HEAD is refused); ``links``: URL -> pages."""
    problems = []
    for url in sorted(links):
        status: int | str
        for method in ("HEAD", "GET"):
            try:
                with urllib.request.urlopen(urllib.request.Request(url, method=method),
                                            timeout=10) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError as exc:
                status = str(exc)
            if status != 405:
                break
        if status != 200:
            on = ", ".join(sorted(links[url])[:3])
            problems.append(f"internal link {url} answers {status} (linked from {on})")
    return problems


def clipping_problems(report: PageReport) -> list[str]:
    """Boxes wider than they show that do not scroll visibly with a tab stop; covered
    equations."""
    problems = []
    for box in report.overflow:
        if box.get("overlap"):
            problems.append(f"clipped: {box['what']}")
        elif not (box["scroll"] and box["tab"]):
            problems.append(f"clipped ({box['sw']} px of content in {box['cw']} px, "
                            f"{'no tab stop' if box['scroll'] else 'no scroll bar'}): "
                            f"{box['what']}")
    return problems


def png_dpi(data: bytes) -> float | None:
    """Pixels per inch stored in a PNG's pHYs chunk (matplotlib writes it), or None."""
    at = data.find(b"pHYs")
    if data[:8] != b"\x89PNG\r\n\x1a\n" or at < 0:
        return None
    x_per_unit, _y, unit = struct.unpack(">IIB", data[at + 4: at + 13])
    return x_per_unit * 0.0254 if unit == 1 else None


def image_bytes(src: str, base_url: str, html_dir: Path) -> bytes | None:
    if src.startswith("data:image/png;base64,"):
        return base64.b64decode(src.split(",", 1)[1])
    path = local_file(src, base_url, html_dir)
    return path.read_bytes() if path is not None and path.is_file() else None


def smallest_font_pt() -> float:
    """The course style's smallest font size (points): ticks, legends, labels, titles."""
    from symcourse.plots import STYLE

    return min(float(v) for k, v in STYLE.items()
               if k == "font.size" or k.endswith(("labelsize", "titlesize", "fontsize")))


def figure_text_problems(report: PageReport, base_url: str, html_dir: Path,
                         minimum: float = MIN_TEXT_PX) -> list[str]:
    """Figures whose smallest text renders below ``minimum`` CSS px where the page shows them:
    font (pt) / 72 * stored dpi * shown width / natural width."""
    problems, font = [], smallest_font_pt()
    for figure in report.figures:
        data = image_bytes(figure["src"], base_url, html_dir)
        dpi = png_dpi(data) if data else None
        if dpi is None:
            continue  # not a matplotlib PNG: nothing to say about its text
        px = font / 72 * dpi * figure["shown"] / figure["natural"]
        if px < minimum:
            name = figure["src"][:60] + ("..." if len(figure["src"]) > 60 else "")
            problems.append(f"figure text {px:.1f} px < {minimum:g} px ({figure['natural']} px "
                            f"at {dpi:.0f} dpi shown {figure['shown']:.0f} px wide): {name}")
    return problems


def page_problems(report: PageReport, base_url: str, html_dir: Path) -> list[str]:
    return (offline_problems(report) + error_problems(report) + math_problems(report)
            + image_problems(report) + widget_problems(report)
            + weight_problems(report, base_url, html_dir) + clipping_problems(report)
            + figure_text_problems(report, base_url, html_dir))


def site_size(html_dir: Path) -> int:
    return sum(p.stat().st_size for p in html_dir.rglob("*") if p.is_file())


# --------------------------------------------------------------------------------------
# The real book
# --------------------------------------------------------------------------------------


def test_every_page_in_a_real_browser(book_build, browser_report):
    html_dir = built_html(book_build)
    # Every page of the book; _static/ holds only theme template fragments, not pages.
    pages = sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
                   if p.relative_to(html_dir).parts[0] != "_static")
    assert "book/intro.html" in pages, pages
    shutil.rmtree(SCREENSHOT_DIR, ignore_errors=True)  # no stale screenshots
    start = time.perf_counter()
    problems: list[str] = []
    links: dict[str, set[str]] = {}
    weights: dict[str, int] = {}
    with serve(html_dir) as base_url, chromium(base_url) as browser:
        for rel in pages:
            shot = SCREENSHOT_DIR / Path(rel).with_suffix(".png")
            report = browser.check(base_url + rel, screenshot=shot)
            problems += [f"{rel}: {p}" for p in page_problems(report, base_url, html_dir)]
            weights[rel] = page_weight(report, base_url, html_dir)
            for link in report.links:
                links.setdefault(link, set()).add(rel)
        problems += link_problems(links)
    seconds = time.perf_counter() - start
    heaviest = max(weights, key=weights.get)
    browser_report += [
        f"{len(pages)} pages checked in Chromium in {seconds:.1f} s, "
        f"{len(links)} internal links",
        f"screenshots: {SCREENSHOT_DIR.relative_to(ROOT)}/ (one full-page PNG per page)",
        f"built site: {site_size(html_dir) / 1e6:.1f} MB; heaviest page {heaviest}: "
        f"{weights[heaviest] / 1e6:.2f} MB (HTML + own images)",
    ]
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------
# The checkers catch real problems: a tiny site with one of each
# --------------------------------------------------------------------------------------

# A valid 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db40000000049454e44ae426082")

BAD_PAGE = """<!DOCTYPE html><html><head><title>bad</title>
<script src="http://example.invalid/remote.js"></script></head><body>
<p>Inline math left raw: \\(x^2\\) and display math $$y$$.</p>
<pre><code>\\(in code: fine\\)</code></pre>
<img src="pixel.png">
<img src="missing.png" alt="a missing picture">
<a href="nowhere.html">broken</a> <a href="good.html#top">fine</a>
<a href="https://example.invalid/">external: not checked</a>
<div class="cell_output"><script type="application/vnd.jupyter.widget-view+json">
{"version_major": 2, "version_minor": 0, "model_id": "nothing"}</script></div>
<script>console.error("oops from the page"); throw new Error("boom");</script>
</body></html>"""

GOOD_PAGE = """<!DOCTYPE html><html><head><title>good</title></head><body id="top">
<p>Plain text, code <code>\\(x\\)</code>.</p><img src="pixel.png" alt="one pixel">
<div class="cell_output"><script type="application/vnd.jupyter.widget-view+json">
{"model_id": "m"}</script></div><div><img src="pixel.png" alt="static view of the widget"></div>
<a href="bad.html">back</a></body></html>"""


@pytest.fixture(scope="module")
def tiny_site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    (site / "bad.html").write_text(BAD_PAGE, encoding="utf-8")
    (site / "good.html").write_text(GOOD_PAGE, encoding="utf-8")
    (site / "pixel.png").write_bytes(PNG)
    with serve(site) as base_url:  # kept up for the link checks
        with chromium(base_url) as browser:
            bad = browser.check(base_url + "bad.html")
            good = browser.check(base_url + "good.html")
        yield site, base_url, bad, good


def test_clean_page_has_no_problems(tiny_site):
    site, base_url, _bad, good = tiny_site
    assert page_problems(good, base_url, site) == []
    assert link_problems({link: {"good.html"} for link in good.links}) == []


def test_offline_checker_names_a_remote_script(tiny_site):
    _site, _base, bad, _good = tiny_site
    assert offline_problems(bad) == [
        "requested a non-local URL (blocked): http://example.invalid/remote.js"]


def test_error_checker_reports_console_and_page_errors(tiny_site):
    _site, _base, bad, _good = tiny_site
    problems = "\n".join(error_problems(bad))
    assert "console error: oops from the page" in problems
    assert "page error: " in problems and "boom" in problems
    assert "failed request: 404" in problems and "missing.png" in problems


def test_math_checker_reports_raw_tex_outside_code(tiny_site):
    _site, _base, bad, good = tiny_site
    problems = math_problems(bad)
    assert any("raw TeX '\\\\('" in p and "x^2" in p for p in problems), problems
    assert any("raw TeX '$$'" in p for p in problems), problems
    assert not any("in code" in p for p in problems), problems
    assert math_problems(good) == []
    typeset_nothing = PageReport("u", has_math_source=True, mathjax_loaded=True, mjx_count=0)
    assert math_problems(typeset_nothing) == [
        "the page has math but no mjx-container was rendered"]


def test_image_checker_reports_missing_alt_and_unloaded_image(tiny_site):
    _site, base_url, bad, _good = tiny_site
    assert image_problems(bad) == [f"image without alt text: {base_url}pixel.png",
                                   f"image not loaded: {base_url}missing.png"]


def test_link_checker_reports_a_broken_internal_link(tiny_site):
    _site, base_url, bad, _good = tiny_site
    assert bad.links == {base_url + "nowhere.html", base_url + "good.html"}
    assert link_problems({link: {"bad.html"} for link in bad.links}) == [
        f"internal link {base_url}nowhere.html answers 404 (linked from bad.html)"]


def test_widget_checker_reports_an_empty_widget_output(tiny_site):
    _site, _base, bad, good = tiny_site
    assert len(widget_problems(bad)) == 1
    assert widget_problems(good) == []  # a static fallback image follows the output


def test_weight_checker_reports_a_heavy_page(tiny_site):
    site, base_url, bad, _good = tiny_site
    weight = page_weight(bad, base_url, site)
    assert weight == len(BAD_PAGE.encode()) + len(PNG)
    assert weight_problems(bad, base_url, site) == []
    assert weight_problems(bad, base_url, site, limit=weight - 1) != []


def test_widget_checker_sees_a_widget_the_vendored_manager_rendered(tmp_path):
    """The real widget manager (book/_vendor/html-manager) renders a stored slider."""
    shutil.copytree(ROOT / "book" / "_vendor" / "html-manager", tmp_path / "html-manager")
    state = {"version_major": 2, "version_minor": 0, "state": {
        "l": {"model_name": "LayoutModel", "model_module": "@jupyter-widgets/base",
              "model_module_version": "2.0.0", "state": {}},
        "s": {"model_name": "SliderStyleModel", "model_module": "@jupyter-widgets/controls",
              "model_module_version": "2.0.0", "state": {"description_width": ""}},
        "m": {"model_name": "FloatSliderModel", "model_module": "@jupyter-widgets/controls",
              "model_module_version": "2.0.0",
              "state": {"description": "lr", "layout": "IPY_MODEL_l", "style": "IPY_MODEL_s",
                        "value": 0.3, "max": 1.0}}}}
    (tmp_path / "widget.html").write_text(
        '<!DOCTYPE html><html><head><script src="html-manager/embed.js"></script>'
        f'<script type="application/vnd.jupyter.widget-state+json">{json.dumps(state)}'
        '</script></head><body><div class="cell_output">'
        f'<script type="{WIDGET_VIEW}">'
        '{"version_major": 2, "version_minor": 0, "model_id": "m"}</script></div></body></html>',
        encoding="utf-8")
    with serve(tmp_path) as base_url, chromium(base_url) as browser:
        report = browser.check(base_url + "widget.html")
    assert error_problems(report) + offline_problems(report) == []
    assert report.widgets and all(w["rendered"] for w in report.widgets), report.widgets
    assert widget_problems(report) == []


# --------------------------------------------------------------------------------------
# Phone and desktop: one header bar; the navigation and contents buttons open their panels
# --------------------------------------------------------------------------------------

VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 900)}
#: Sphinx-book-theme's two side panels and the buttons that toggle them.
PANELS = {"navigation": (".bd-sidebar-primary", ".primary-toggle"),
          "contents": (".bd-sidebar-secondary", ".secondary-toggle")}

_NAV_STATE = """([panel, button]) => {
  const shown = el => { if (!el) return false; const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const p = document.querySelector(panel);
  const r = p ? p.getBoundingClientRect() : null;
  return {
    inView: !!(p && shown(p) && r.left >= -1 && r.right <= innerWidth + 1 && r.width > 100),
    buttons: Array.from(document.querySelectorAll(button)).filter(shown).length,
    headers: Array.from(document.querySelectorAll('.bd-header, .bd-header-article'))
      .filter(shown).length,
    searches: Array.from(document.querySelectorAll('.search-button, .search-button-field,'
      + ' form.bd-search')).filter(shown).length,
    theme: document.documentElement.dataset.theme || '',
    background: getComputedStyle(document.body).backgroundColor,
  };
}"""


def _luminance(css_colour: str) -> float:
    import re

    red, green, blue = (float(v) for v in re.findall(r"[\d.]+", css_colour)[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def navigation_problems(page, url: str, size: str, mode: str, shots: Path) -> list[str]:
    """Open ``url`` at one viewport and colour mode; check the header and both panels."""
    problems, where = [], f"{size} {mode}"
    for name, (panel, button) in PANELS.items():
        page.goto(url, wait_until="load")
        page.wait_for_timeout(300)
        state = page.evaluate(_NAV_STATE, [panel, button])
        if state["headers"] != 1:
            problems.append(f"{where}: {state['headers']} header bars visible, not 1")
        if state["searches"] > 1:
            problems.append(f"{where}: {state['searches']} search boxes visible")
        dark = _luminance(state["background"]) < 0.3
        if (mode == "dark") != dark or (mode == "dark") != (state["theme"] == "dark"):
            problems.append(f"{where}: theme {state['theme']!r}, background "
                            f"{state['background']} (expected {mode})")
        if state["inView"] and not state["buttons"]:
            continue  # always shown at this width (the desktop contents column)
        if not state["buttons"]:
            problems.append(f"{where}: the {name} panel is hidden and has no visible button")
            continue
        toggle = next(b for b in page.query_selector_all(button) if b.is_visible())
        before = state["inView"]
        toggle.click()
        page.wait_for_timeout(500)
        after = page.evaluate(_NAV_STATE, [panel, button])["inView"]
        page.screenshot(path=str(shots / f"nav-{size}-{mode}-{name}.png"))
        if before:  # open from the start (desktop navigation): the button closes and reopens
            toggle.click()
            page.wait_for_timeout(500)
            again = page.evaluate(_NAV_STATE, [panel, button])["inView"]
            if after or not again:
                problems.append(f"{where}: the {name} button does not close and reopen its panel")
        elif not after:
            problems.append(f"{where}: the {name} button does not open its panel")
    return problems


def test_navigation_on_phone_and_desktop_in_light_and_dark(book_build, browser_report):
    html_dir = built_html(book_build)
    chapter = sorted(html_dir.glob("book/[0-9][0-9]_*.html"))[0].relative_to(html_dir).as_posix()
    shots = SCREENSHOT_DIR / "navigation"
    shots.mkdir(parents=True, exist_ok=True)
    problems = []
    with serve(html_dir) as base_url, chromium(base_url) as browser:
        for size, (width, height) in VIEWPORTS.items():
            for mode in ("light", "dark"):
                context = browser.browser.new_context(viewport={"width": width, "height": height},
                                                      color_scheme=mode)
                context.route("**/*", browser._route)
                browser.report = PageReport(base_url + chapter)
                try:
                    problems += navigation_problems(context.new_page(), base_url + chapter,
                                                    size, mode, shots)
                finally:
                    problems += offline_problems(browser.report)
                    browser.report = None
                    context.close()
    browser_report.append(f"navigation screenshots: {shots.relative_to(ROOT)}/ ({chapter})")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------
# Offline explorers: every slider changes the figure, no request leaves the page
# --------------------------------------------------------------------------------------

_EXPLORERS = """() => Array.from(document.querySelectorAll('.symcourse-static-explorer'))
  .map(root => Array.from(root.querySelectorAll('input[type=range]')).map(i => +i.max))"""

_MOVE = """([e, k, value]) => {
  const root = document.querySelectorAll('.symcourse-static-explorer')[e];
  const input = root.querySelectorAll('input[type=range]')[k];
  input.value = value;
  input.dispatchEvent(new Event('input', {bubbles: true}));
  const img = root.querySelector('img');
  return {src: img.src, width: img.naturalWidth, label: input.nextElementSibling.textContent};
}"""


def explorer_problems(page) -> tuple[int, list[str]]:
    """Move every slider of every offline explorer on the open page through its positions."""
    problems, explorers = [], page.evaluate(_EXPLORERS)
    for e, sliders in enumerate(explorers):
        if not sliders:
            problems.append(f"explorer {e}: no slider")
        for k, top in enumerate(sliders):
            seen = [page.evaluate(_MOVE, [e, k, v]) for v in range(top + 1)]
            page.evaluate(_MOVE, [e, k, 0])
            if len({s["src"] for s in seen}) < 2 or any(not s["src"].startswith("data:")
                                                           for s in seen):
                problems.append(f"explorer {e}, slider {k}: the figure does not change")
            if len({s["label"] for s in seen}) != top + 1:
                problems.append(f"explorer {e}, slider {k}: labels do not follow the slider")
    return len(explorers), problems


def chapters_with_explorers() -> set[str]:
    """Chapter pages whose notebook displays an explorer (a code cell ending in one)."""
    import re

    import nbformat

    found = set()
    for path in sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        if any(c.cell_type == "code" and re.search(r"Explorer\([^\n]*\)\s*$", c.source)
               for c in cells):
            found.add(f"book/{path.stem}.html")
    return found


def test_explorers_move_in_the_static_book(book_build, browser_report):
    html_dir = built_html(book_build)
    expected = chapters_with_explorers()
    problems, counts = [], {}
    with serve(html_dir) as base_url, chromium(base_url) as browser:
        for rel in sorted(expected):
            browser.report = PageReport(base_url + rel)
            browser.page.goto(base_url + rel, wait_until="load")
            counts[rel], found = explorer_problems(browser.page)
            problems += [f"{rel}: {p}" for p in found + offline_problems(browser.report)
                         + error_problems(browser.report)]
            if not counts[rel]:
                problems.append(f"{rel}: its explorer has no offline control in the page "
                                "(re-execute the chapter; the cell must not be remove-output)")
            if browser.page.query_selector('script[src*="html-manager"]'):
                problems.append(f"{rel}: still loads the widget manager")
            browser.report = None
    browser_report.append("offline explorers: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------
# The new checkers catch real problems too
# --------------------------------------------------------------------------------------

def _line_explorer():
    """A one-slider explorer drawing a line of slope ``a`` (cheap, for the checkers)."""
    import ipywidgets
    import matplotlib.pyplot as plt

    from symcourse.widgets import Explorer

    def draw(a=1.0):
        fig, ax = plt.subplots(figsize=(4, 2))
        ax.plot([0, 1], [0, a])
        ax.set(xlabel="x", ylabel="y", ylim=(-2, 2))
        return fig, {"a": a}

    class LineExplorer(Explorer):
        static_grid = {"a": [-1.0, 0.0, 1.0]}

    return LineExplorer(draw, {"a": ipywidgets.FloatSlider(value=0.5, min=-1, max=1)}, [["a"]])


def test_layout_checkers_catch_clipping_tiny_text_and_frozen_explorers(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(20, 1), dpi=100)  # 2000 px wide, shown at 500: text ~3 px
    fig.savefig(tmp_path / "wide.png", dpi=100)
    plt.close(fig)
    long = "x = 1  # " + "a long line " * 40
    explorer = _line_explorer()
    frozen = explorer.static_html().replace('addEventListener("input", show)', "toString()")
    (tmp_path / "page.html").write_text(
        "<!DOCTYPE html><html><body style='width:600px'>"
        f"<div class='highlight'><pre style='overflow-x:hidden'>{long}</pre></div>"
        f"<div class='highlight'><pre style='overflow-x:auto'>{long}</pre></div>"
        f"<div class='highlight'><pre style='overflow-x:auto' tabindex='0'>{long}</pre></div>"
        "<div class='cell_output'><img src='wide.png' alt='wide' style='width:500px'></div>"
        f"{explorer.static_html()}{frozen}</body></html>", encoding="utf-8")
    with serve(tmp_path) as base_url, chromium(base_url) as browser:
        report = browser.check(base_url + "page.html")
        browser.report = PageReport("again")
        count, frozen_problems = explorer_problems(browser.page)
        moved = offline_problems(browser.report)
    clipped = clipping_problems(report)
    assert len(clipped) == 2, clipped
    assert "no scroll bar" in clipped[0] and "no tab stop" in clipped[1], clipped
    tiny = figure_text_problems(report, base_url, tmp_path)
    assert len(tiny) == 1 and "wide.png" in tiny[0] and "3.1 px" in tiny[0], tiny
    assert count == 2 and moved == [] and error_problems(report) == []
    assert frozen_problems == ["explorer 1, slider 0: the figure does not change",
                               "explorer 1, slider 0: labels do not follow the slider"]


def test_an_explorer_offers_the_current_value_and_every_grid_position():
    explorer = _line_explorer()
    positions, frames = explorer.static_frames()
    assert positions == {"a": [-1.0, 0.0, 0.5, 1.0]}  # 0.5, its value, added in order
    assert sorted(frames) == ["0", "1", "2", "3"] and len(set(frames.values())) == 4
    assert all(png_dpi(base64.b64decode(png)) for png in frames.values())


def test_an_explorer_displays_the_live_widget_and_later_gives_its_offline_control(monkeypatch):
    import IPython.display

    from symcourse import widgets

    explorer = _line_explorer()  # built first: inside IPython, building shows its figure
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    monkeypatch.setattr(widgets, "_DISPLAYED", [])
    explorer._ipython_display_()
    # a learner's run draws one figure for frontends without widgets, not the book's frames
    assert set(shown[0]) == {"text/plain", WIDGET_VIEW, "text/html"}
    assert 'class="symcourse-explorer-fallback"' in shown[0]["text/html"]
    assert "symcourse-static-explorer" not in shown[0]["text/html"]
    # the book's offline control, asked for after the run, starts at the displayed setting
    # even when the sliders moved since
    explorer.controls["a"].value = -1.0
    (control,) = widgets.offline_controls()
    assert 'class="symcourse-static-explorer"' in control
    assert 'max="3" step="1" value="2"' in control, "should start at a = 0.5 (index 2 of 4)"
    for bad in ({}, {"a": 0.0, "b": 1.0}, [0.0]):
        with pytest.raises(ValueError, match="each control"):
            explorer.static_html(bad)
    explorer.static_grid = {"b": [1]}
    with pytest.raises(ValueError, match="unknown controls"):
        explorer.static_positions()
    explorer.static_grid = None  # the default: the first slider at spread positions
    assert explorer.static_positions() == {"a": [-1.0, -0.5, 0.0, 0.5, 1.0]}
