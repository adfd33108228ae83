"""A chapter opened in JupyterLab, as a reader sees it (Playwright driving Debian's Chromium).

The lab edition (tools/lab_edition.py, ``make lab``) of one small chapter is written to a
temporary folder, a JupyterLab server (the ``lab`` extra: jupyterlab + jupyterlab-myst) is
started there on a free 127.0.0.1 port with its own settings, runtime and workspace folders,
and the notebook is opened in headless Chromium. Every request that does not go to that
server is aborted and fails the test. In the rendered markdown cells the test checks:

* an exercise (sphinx-exercise's ``{exercise}`` directive) and an admonition show their
  titles;
* a citation (``{cite:p}``) shows author and year, not its key;
* every display equation is typeset (KaTeX), and no ``$$`` is left;
* a glued number (``{glue:text}``) shows the value the chapter stored, in its sentence;
* a glossary term links to its definition;
* no raw MyST is visible (``:label:``, ``{glue:text}``, a directive's fence, a role);
* no console error (jupyterlab-myst reports unresolved references there).

The server is always shut down (its process group is killed if it does not stop). Screenshots
of the glued number's, the citation's and the exercise's cells go to ``_build/screenshots/lab/``.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bookbuild import ROOT
from test_browser import SCREENSHOT_DIR, PageReport, chromium, error_problems, offline_problems

sys.path.insert(0, str(ROOT / "tools"))
import lab_edition  # noqa: E402

#: The chapter opened: a small one (the test's time is mostly JupyterLab rendering it).
CHAPTER = ROOT / "book" / "09_come_and_go.ipynb"
SERVER_START_S = 90   # a busy shared machine starts JupyterLab in 5-30 s
RENDER_S = 90         # and renders the notebook's markdown in 10-30 s
RAW_MYST = (":label:", "{glue:text}", "```{", ":::{", "{cite:", "{doc}", "{term}", "{ref}", "$$")
_FAVICON = re.compile(r"^net::ERR_ABORTED \S+/static/favicons/favicon[\w-]*\.ico$")
#: JupyterLab's own settings for the test: all cells rendered at once (no windowing), no
#: question about fetching news (which would also ask the internet).
LAB_SETTINGS = {
    "notebook-extension/tracker": {"windowingMode": "none"},
    "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}

#: jupyterlab-myst's rendering of a markdown cell (in place of JupyterLab's own).
MYST = ".jp-Notebook .jp-MarkdownCell .jp-InputArea > .myst"

_RENDERED = """(count) => {
  const cells = document.querySelectorAll('.jp-Notebook .jp-MarkdownCell');
  const done = document.querySelectorAll('%s');
  return cells.length >= count && done.length >= count
    && !!document.querySelector('.jp-Notebook .myst-exercise-title');
}""" % MYST

_COLLECT = """() => {
  const rendered = Array.from(document.querySelectorAll('%s'));
  return {
    text: rendered.map(el => el.innerText).join('\\n'),
    exercises: Array.from(document.querySelectorAll('.myst-exercise-title'))
      .map(el => el.innerText.replace(/\\s+/g, ' ').trim()),
    admonitions: Array.from(document.querySelectorAll('.myst-admonition-header-text'))
      .map(el => el.innerText.trim()),
    displays: document.querySelectorAll('.myst .katex-display').length,
    mathErrors: document.querySelectorAll('.myst .katex-error').length,
    termLinks: Array.from(document.querySelectorAll('.myst a[href^="#term-"]'))
      .map(a => a.innerText.trim()),
  };
}""" % MYST


#: Scroll the rendered cell that contains a text to the top of the notebook's panel.
_SCROLL_TO = """(text) => {
  const cell = Array.from(document.querySelectorAll('%s'))
    .find(el => el.innerText.includes(text));
  if (cell) cell.scrollIntoView({block: 'start'});
}""" % MYST


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


class LabServer:
    """A JupyterLab server in ``folder`` on 127.0.0.1, isolated from the user's settings."""

    def __init__(self, folder: Path, state: Path):
        self.folder, self.state = folder, state
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}/"
        self.log = state / "server.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "LabServer":
        settings = self.state / "settings" / "@jupyterlab"
        for plugin, values in LAB_SETTINGS.items():
            path = settings / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values), encoding="utf-8")
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(self.state / "config"),
                   JUPYTER_RUNTIME_DIR=str(self.state / "runtime"),
                   JUPYTER_DATA_DIR=str(self.state / "data"),
                   JUPYTERLAB_SETTINGS_DIR=str(self.state / "settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(self.state / "workspaces"))
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
                   "--ip=127.0.0.1", f"--port={self.port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.root_dir={self.folder}", "--LabApp.news_url=None",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        with open(self.log, "w") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {self.process.returncode} before "
                            f"answering; its log:\n{_log_tail(self.log)}")
            try:
                urllib.request.urlopen(f"{self.base}api/status?token={self.token}", timeout=2)
                return self
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"JupyterLab did not answer on {self.base} within {SERVER_START_S} s; "
                    f"its log:\n{_log_tail(self.log)}")

    def stop(self) -> None:
        """Ask the server to shut down (kernels too); kill its process group if it does not."""
        if self.process is None or self.process.poll() is not None:
            return
        request = urllib.request.Request(f"{self.base}api/shutdown", method="POST",
                                         headers={"Authorization": f"token {self.token}"})
        try:
            urllib.request.urlopen(request, timeout=5)
            self.process.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:  # the server's process group: the server and any kernel it started
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.process.pid, sig)
                    self.process.wait(timeout=10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass


def _markdown(nb: dict) -> str:
    return "\n".join(lab_edition._text(c) for c in nb["cells"] if c["cell_type"] == "markdown")


def expectations(nb: dict, book: lab_edition.Book) -> dict:
    """What the rendered chapter must show, read from the chapter's own source."""
    source = _markdown(nb)
    exercise = re.search(r"^[`:]{3,}\{exercise\}\s*(.+)$", source, re.MULTILINE)
    admonition = re.search(r"^[`:]{3,}\{admonition\}\s*(.+)$", source, re.MULTILINE)
    cite = re.search(r"\{cite:p\}`([^`]+)`", source)
    # a glued value with a plain word on either side, to find it in its sentence
    glued = re.search(r"(\w+) \{glue:text\}`([^`]+)` (\w+)", source)
    assert exercise and admonition and cite and glued, (
        f"{CHAPTER.name} lacks an exercise, admonition, citation or glued number")
    value = lab_edition.glued_text(lab_edition.glued_values(nb), glued.group(2))
    key = cite.group(1).split(",")[0].strip()
    return {
        "exercise": exercise.group(1).strip(),
        "admonition": admonition.group(1).strip(),
        "citation": book.bibliography.cite("cite:p", key),
        "cite_key": key,
        "glued": f"{glued.group(1)} {value} {glued.group(3)}",
        "displays": len(re.findall(r"^\$\$", source, re.MULTILINE)) // 2,
        "terms": len(re.findall(r"\{term\}`", source)),
    }


def lab_problems(seen: dict, expected: dict) -> list[str]:
    """Compare what the rendered notebook shows with what it must show."""
    problems, text = [], seen["text"]
    if not any(expected["exercise"] in title for title in seen["exercises"]):
        problems.append(f"no exercise titled {expected['exercise']!r} (titles: "
                        f"{seen['exercises'][:3]})")
    if expected["admonition"] not in seen["admonitions"]:
        problems.append(f"no admonition titled {expected['admonition']!r}")
    if expected["citation"] not in text:
        problems.append(f"citation {expected['citation']!r} not shown")
    if expected["cite_key"] in text:
        problems.append(f"the citation key {expected['cite_key']!r} is shown")
    if expected["glued"] not in text:
        problems.append(f"glued number not shown in its sentence: {expected['glued']!r}")
    if seen["displays"] < expected["displays"] or seen["mathErrors"]:
        problems.append(f"{seen['displays']} typeset display equations of "
                        f"{expected['displays']}, {seen['mathErrors']} KaTeX errors")
    if expected["terms"] and not seen["termLinks"]:
        problems.append("no glossary term links to its definition")
    for raw in RAW_MYST:
        at = text.find(raw)
        if at >= 0:
            problems.append(f"raw MyST {raw!r} visible: ...{text[max(0, at - 40):at + 40]!r}...")
    return problems


def test_lab_problems_reports_raw_myst_and_missing_renderings():
    expected = {"exercise": "Find it", "admonition": "Goals", "citation": "[Saxe et al., 2014]",
                "cite_key": "saxe2014", "glued": "left 35 units", "displays": 2, "terms": 1}
    good = {"text": "Training left 35 units, as [Saxe et al., 2014] found.", "displays": 2,
            "exercises": ["Exercise 1 (Find it)"], "admonitions": ["Goals"], "mathErrors": 0,
            "termLinks": ["dead"]}
    assert lab_problems(good, expected) == []
    bad = {"text": "Training left {glue:text}`n_dead` units, saxe2014 :label: ex-a $$",
           "displays": 1, "exercises": [], "admonitions": [], "mathErrors": 0, "termLinks": []}
    problems = lab_problems(bad, expected)
    assert len(problems) == 10, problems
    assert any("'{glue:text}'" in p for p in problems) and any("':label:'" in p for p in problems)


def test_a_chapter_renders_in_jupyterlab(tmp_path, browser_report):
    started = time.monotonic()
    book = lab_edition.Book.of()
    nb = json.loads(CHAPTER.read_text(encoding="utf-8"))
    expected = expectations(nb, book)
    folder, state = tmp_path / "lab", tmp_path / "state"
    folder.mkdir()
    state.mkdir()
    lab_nb = lab_edition.lab_notebook(nb, book)
    (folder / CHAPTER.name).write_text(json.dumps(lab_nb), encoding="utf-8")
    markdown_cells = sum(c["cell_type"] == "markdown" for c in lab_nb["cells"])
    shots = SCREENSHOT_DIR / "lab"
    shots.mkdir(parents=True, exist_ok=True)
    server, timings = LabServer(folder, state), {}
    try:
        server.start()
        timings["server"] = time.monotonic() - started
        with chromium(server.base) as browser:
            from playwright.sync_api import TimeoutError as PlaywrightTimeout

            page = browser.page
            page.set_default_timeout(RENDER_S * 1000)
            page.set_viewport_size({"width": 1280, "height": 1400})
            browser.report = report = PageReport(server.base)
            page.goto(f"{server.base}lab/tree/{CHAPTER.name}?token={server.token}",
                      wait_until="domcontentloaded", timeout=RENDER_S * 1000)
            try:
                page.wait_for_function(_RENDERED, arg=markdown_cells, timeout=RENDER_S * 1000)
            except PlaywrightTimeout:
                page.screenshot(path=str(shots / "timeout.png"))
                pytest.fail(f"JupyterLab did not render the {markdown_cells} markdown cells of "
                            f"{CHAPTER.name} within {RENDER_S} s (screenshot "
                            f"{shots / 'timeout.png'}); server log:\n{_log_tail(server.log)}")
            timings["render"] = time.monotonic() - started - timings["server"]
            page.wait_for_timeout(500)  # late console messages of the last cells
            seen = page.evaluate(_COLLECT)
            for suffix, text in (("", "glued"), ("-citation", "citation"),
                                 ("-exercise", "exercise")):
                page.evaluate(_SCROLL_TO, expected[text])
                page.screenshot(path=str(shots / f"{CHAPTER.stem}{suffix}.png"))
            shot = shots / f"{CHAPTER.stem}.png"
            browser.report = None
    finally:
        server.stop()
    assert server.process.poll() is not None, "the JupyterLab server is still running"
    # JupyterLab swaps its favicon while the kernel starts; a swap cancels the previous load
    report.failed_requests = [r for r in report.failed_requests if not _FAVICON.search(r)]
    problems = lab_problems(seen, expected) + offline_problems(report) + error_problems(report)
    browser_report.append(
        f"JupyterLab: {CHAPTER.name} rendered, screenshot {shot.relative_to(ROOT)} (server "
        f"start {timings['server']:.1f} s, rendering {timings['render']:.1f} s; "
        f"time: {time.monotonic() - started:.1f} s)")
    assert not problems, "\n".join(problems)
