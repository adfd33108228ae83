"""Sphinx extension for this course: notebook checks and the execution-status table.

Registered in ``_config.yml`` (``sphinx: local_extensions: {coursetools: book/_ext}``).

1. **Stored-output guard.** The book renders the outputs stored in the notebooks
   (``execute_notebooks: "off"``), so a notebook that raised, or one that was saved
   half-run, would otherwise be published silently. Before any page is read, every
   notebook of the book is checked; a stored output of type ``error`` or a non-empty
   code cell with ``execution_count: null`` aborts the build with a
   :class:`NotebookCheckError` that names the notebook and the cell. This fails every
   build, with or without ``-W``. The only exception is a cell tagged
   ``raises-exception``: the tag that nbclient and nbval also honour for a cell whose
   error is part of the lesson; and a cell tagged ``student-stub`` (an exercise stub of the
   student edition) may be unexecuted.

2. **``{course-status}`` directive.** Renders one table row per notebook, in
   table-of-contents order: chapter title, run time computed from the per-cell timing
   nbclient records, the date, commit and versions of the last verified run
   (``metadata.symcourse.executed``, written by ``tools/execute_notebooks.py``), and
   whether the chapter stays within the 30 s goal and the 60 s limit; below the table, the
   wall time of the last full test run (``tests/suite_time.json``, written by the root
   ``conftest.py`` after a complete, passing run).

3. **Vendored-asset guard.** Jupyter Book 1 adds every ``*.js``/``*.css`` found under
   *all* ``html_static_path`` folders to every page as soon as a ``_static`` folder
   exists next to ``_config.yml``. That would load MathJax and the widget manager
   (about 3 MB) twice on each page, so such entries for the vendored folders are
   dropped again here; those files are loaded only where Sphinx and myst-nb need them.

4. **No CDN on pages.** Jupyter Book always loads ``sphinx_thebe``, which puts a
   script naming thebe's CDN URL (and its loader, ``sphinx-thebe.js``) on every page,
   though thebe is only fetched from there when a reader starts live code. This book
   is read offline and does not enable thebe, so those two scripts are left out of the
   pages; they stay when thebe is switched on (``launch_buttons: thebe: true`` or
   ``thebe_config: always_load: true``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any, Iterable

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import SphinxError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

__version__ = "0.1.0"

logger = logging.getLogger(__name__)

#: Per-chapter budget for a full top-to-bottom run, in seconds (2-core CPU): the hard limit.
BUDGET_SECONDS = 60.0
#: What a chapter should take (the status page marks chapters over it).
GOAL_SECONDS = 30.0
#: The last full test run's wall time, written by the root conftest.py (relative to the book).
SUITE_RECORD = "tests/suite_time.json"

#: Top-level folders of the vendored assets inside ``book/_vendor`` (see its README.txt).
VENDORED_PREFIXES = ("mathjax/", "html-manager/")

#: A cell with this tag may store an error output on purpose (same tag as nbclient/nbval).
ALLOWED_ERROR_TAG = "raises-exception"

#: The student edition (tools/student_edition.py) puts unexecuted stubs, tagged so, where
#: solutions were; they are the only code cells allowed to have no stored run.
STUB_TAG = "student-stub"


class NotebookCheckError(SphinxError):
    """A notebook in the book stores an error output or has unexecuted code cells."""

    category = "Notebook check failed"


# ---------------------------------------------------------------------------
# Helpers that read a notebook (plain JSON, nbformat 4). Also used by
# tools/execute_notebooks.py, so the table and the recorded run agree.
# ---------------------------------------------------------------------------


def read_notebook(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _source_text(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def notebook_problems(nb: dict[str, Any]) -> list[str]:
    """Describe every stored error output and every never-executed code cell.

    Cells are named by their 0-based index among all cells and, in brackets, by
    nbval's numbering (which counts code cells only).
    """
    problems: list[str] = []
    unexecuted: list[str] = []
    code_index = -1
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        code_index += 1
        where = f"cell {index} (nbval: Cell {code_index})"
        tags = cell.get("metadata", {}).get("tags", []) or []
        if ALLOWED_ERROR_TAG not in tags:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    ename = output.get("ename", "error")
                    evalue = str(output.get("evalue", "")).strip()
                    first_line = evalue.splitlines()[0] if evalue else ""
                    problems.append(
                        f"{where} stores an error output: {ename}: {first_line}".rstrip(": ")
                    )
        if _source_text(cell).strip() and cell.get("execution_count") is None and STUB_TAG not in tags:
            unexecuted.append(where)
    if len(unexecuted) > 3:  # typically a notebook saved without running it at all
        problems.append(
            f"{len(unexecuted)} code cells were never executed (execution_count is null), "
            f"from {unexecuted[0]} to {unexecuted[-1]}"
        )
    else:
        problems += [f"{where} was never executed (execution_count is null)"
                     for where in unexecuted]
    return problems


def _parse_time(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def execution_seconds(nb: dict[str, Any]) -> float | None:
    """Seconds from the first cell's ``iopub.execute_input`` to the last ``shell.execute_reply``.

    Uses the per-cell timing that nbclient stores with ``record_timing=True``
    (kernel start-up is not included). ``None`` when the notebook has no timing.
    """
    starts: list[dt.datetime] = []
    replies: list[dt.datetime] = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        timing = cell.get("metadata", {}).get("execution", {}) or {}
        try:
            if timing.get("iopub.execute_input"):
                starts.append(_parse_time(timing["iopub.execute_input"]))
            if timing.get("shell.execute_reply"):
                replies.append(_parse_time(timing["shell.execute_reply"]))
        except (TypeError, ValueError):
            continue
    if not starts or not replies:
        return None
    return max(0.0, (max(replies) - min(starts)).total_seconds())


def executed_record(nb: dict[str, Any]) -> dict[str, Any]:
    """The ``metadata.symcourse.executed`` record, or an empty dict."""
    record = nb.get("metadata", {}).get("symcourse", {}).get("executed", {})
    return record if isinstance(record, dict) else {}


# ---------------------------------------------------------------------------
# Sphinx side
# ---------------------------------------------------------------------------


def _notebook_docs(env: Any) -> Iterable[tuple[str, Path]]:
    for docname in sorted(env.found_docs):
        path = Path(env.doc2path(docname))
        if path.suffix == ".ipynb":
            yield docname, path


def check_stored_outputs(app: Sphinx, env: Any, docnames: list[str]) -> None:
    """``env-before-read-docs``: refuse to build from broken stored outputs.

    Every notebook of the book is checked on every build (not only the changed
    ones), so an incremental build cannot hide an old failure.
    """
    failures: list[str] = []
    for docname, path in _notebook_docs(env):
        try:
            nb = read_notebook(path)
        except (OSError, ValueError) as exc:
            failures.append(f"{docname}.ipynb: cannot be read ({exc})")
            continue
        problems = notebook_problems(nb)
        try:
            notebook_exercises(nb)
        except ExerciseConventionError as exc:
            problems.append(str(exc))
        for problem in problems:
            logger.error("%s", problem, location=(docname, None))
            failures.append(f"{docname}.ipynb: {problem}")
    if failures:
        raise NotebookCheckError(
            "the book shows stored outputs, and these notebooks do not have a clean, "
            "complete run stored. Fix the cause, store a fresh run with `make execute` "
            "(it stops at the first error), and build again.\n  "
            + "\n  ".join(failures)
        )


class course_status(nodes.General, nodes.Element):
    """Placeholder replaced by the status table once all documents are read."""


class CourseStatusDirective(SphinxDirective):
    """``{course-status}``: execution status of every notebook in the book."""

    has_content = False
    required_arguments = 0
    optional_arguments = 0
    placeholder = course_status

    def run(self) -> list[nodes.Node]:
        # Re-read (and so re-render) this page whenever a notebook changes.
        for _docname, path in _notebook_docs(self.env):
            self.env.note_dependency(str(path))
        record = Path(self.env.srcdir) / self.config.coursetools_suite_record
        if record.is_file():
            self.env.note_dependency(str(record))
        node = self.placeholder()
        self.set_source_info(node)
        return [node]


def _toc_order(env: Any, root: str) -> list[str]:
    """Documents in table-of-contents order (depth first from the root document)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(docname: str) -> None:
        if docname in seen:
            return
        seen.add(docname)
        order.append(docname)
        for child in env.toctree_includes.get(docname, []):
            visit(child)

    visit(root)
    return order


def _format_date(stamp: Any) -> str:
    if not stamp:
        return "not recorded"
    try:
        when = _parse_time(str(stamp)).astimezone(dt.timezone.utc)
    except ValueError:
        return str(stamp)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _status_row(nb: dict[str, Any] | None, budget: float, goal: float) -> list[str]:
    if nb is None:
        return ["unreadable", "✗", "✗", "not recorded", "—", "—", "—"]
    seconds = execution_seconds(nb)
    record = executed_record(nb)
    if seconds is None and isinstance(record.get("seconds"), (int, float)):
        seconds = float(record["seconds"])
    if seconds is None:
        time_text, on_goal, verdict = "not measured", "?", "?"
    else:
        time_text = f"{seconds:.1f}"
        on_goal = "✓" if seconds <= goal else "✗"
        verdict = "✓" if seconds <= budget else "✗"
    versions = " / ".join(
        str(record[key]) for key in ("python", "torch") if record.get(key)
    ) or "—"
    offline = record.get("offline_seconds")
    return [
        time_text,
        on_goal,
        verdict,
        _format_date(record.get("date")),
        str(record.get("commit") or "—"),
        versions,
        f"{offline:.1f}" if isinstance(offline, (int, float)) else "—",
    ]


def _cell(content: nodes.Node | str) -> nodes.entry:
    entry = nodes.entry()
    paragraph = nodes.paragraph()
    paragraph += content if isinstance(content, nodes.Node) else nodes.Text(content)
    entry += paragraph
    return entry


def _empty_table(css_class: str, headers: list[str], widths: tuple[int, ...]):
    """A docutils table with a header row; returns it and its (empty) body."""
    table = nodes.table(classes=[css_class])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head_row = nodes.row()
    for header in headers:
        head_row += _cell(header)
    group += nodes.thead("", head_row)
    body = nodes.tbody()
    group += body
    return table, body


def _build_table(app: Sphinx, fromdocname: str) -> nodes.table:
    env = app.env
    budget = float(app.config.coursetools_budget_seconds)
    goal = float(app.config.coursetools_goal_seconds)
    headers = [
        "Chapter",
        "Run time (s)",
        f"Within the {goal:g} s goal",
        f"Within the {budget:g} s limit",
        "Last verified run",
        "Commit",
        "Python / torch",
        "Book's explorer frames (s)",
    ]
    notebooks = dict(_notebook_docs(env))
    ordered = [d for d in _toc_order(env, app.config.root_doc) if d in notebooks]
    ordered += [d for d in sorted(notebooks) if d not in ordered]

    table, body = _empty_table("course-status", headers, (26, 9, 9, 9, 17, 10, 12, 8))

    for docname in ordered:
        try:
            nb: dict[str, Any] | None = read_notebook(notebooks[docname])
        except (OSError, ValueError):
            nb = None
        title = env.titles.get(docname)
        link = nodes.reference(
            "",
            title.astext() if title is not None else docname,
            internal=True,
            refuri=app.builder.get_relative_uri(fromdocname, docname),
        )
        row = nodes.row()
        row += _cell(link)
        for text in _status_row(nb, budget, goal):
            row += _cell(text)
        body += row
    if not ordered:
        row = nodes.row()
        row += _cell("No notebooks in the table of contents.")
        for _ in headers[1:]:
            row += _cell("")
        body += row
    return table


def read_suite_record(path: str | Path) -> dict[str, Any] | None:
    """The recorded full test run (``seconds``, ``date``, ``commit``, ``workers``, ``tests``),
    or None when there is none or it cannot be read."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("seconds"), (int, float)):
        return None
    return record


def suite_sentence(record: dict[str, Any] | None) -> str:
    """One sentence on the last full test run, for the status page."""
    if record is None:
        return "Test suite: no full run recorded yet (it is recorded by a complete `make test`)."
    minutes, seconds = divmod(round(float(record["seconds"])), 60)
    details = [f"{record['tests']} tests" if record.get("tests") else None,
               f"{record['workers']} workers" if record.get("workers") else None,
               _format_date(record.get("date")),
               f"commit {record['commit']}" if record.get("commit") else None]
    return (f"Test suite: the last full run took {minutes} min {seconds:02d} s "
            f"({', '.join(d for d in details if d)}).")


def render_status_tables(app: Sphinx, doctree: nodes.document, fromdocname: str) -> None:
    """``doctree-resolved``: fill in every ``course-status`` placeholder."""
    record = read_suite_record(Path(app.srcdir) / app.config.coursetools_suite_record)
    for node in list(doctree.findall(course_status)):
        suite = nodes.paragraph(classes=["course-suite-time"])
        suite += nodes.Text(suite_sentence(record))
        node.replace_self([_build_table(app, fromdocname), suite])


def drop_injected_vendor_files(app: Sphinx, config: Config) -> None:
    """``config-inited``: undo Jupyter Book's blanket injection of vendored JS/CSS."""
    for name in ("html_js_files", "html_css_files"):
        entries = list(getattr(config, name, []) or [])
        kept = []
        for entry in entries:
            filename = entry[0] if isinstance(entry, (tuple, list)) else entry
            if isinstance(filename, str) and filename.startswith(VENDORED_PREFIXES):
                logger.info("coursetools: not adding vendored %s to every page", filename)
                continue
            kept.append(entry)
        if len(kept) != len(entries):
            setattr(config, name, kept)


def _thebe_enabled(config: Config) -> bool:
    launch = (getattr(config, "html_theme_options", {}) or {}).get("launch_buttons", {})
    thebe = getattr(config, "thebe_config", {}) or {}
    return bool((launch or {}).get("thebe")) or str(thebe.get("always_load")) in ("True", "true")


def drop_unused_thebe_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """``html-page-context``: leave thebe's CDN loader off pages when thebe is off."""
    scripts = context.get("script_files")
    if not isinstance(scripts, list) or _thebe_enabled(app.config):
        return

    def is_thebe(js: Any) -> bool:
        filename = getattr(js, "filename", js) or ""
        body = (getattr(js, "attributes", {}) or {}).get("body", "") or ""
        return str(filename).endswith("sphinx-thebe.js") or "THEBE_JS_URL" in body

    scripts[:] = [js for js in scripts if not is_thebe(js)]


# ---------------------------------------------------------------------------
# Exercise index
# ---------------------------------------------------------------------------

#: The exercise convention (CONTRIBUTING.md): ```{exercise} [kind · N min] Title
EXERCISE_KINDS = ("check", "derive", "code", "investigate")
_EXERCISE = re.compile(r"\{exercise\}\s*(?P<title>[^\n]*)\n(?:[^\n]*\n)*?:label:\s*(?P<label>\S+)")
_HEADING = re.compile(r"\[(?P<kind>\w+)\s*·\s*(?P<minutes>\d+)\s*min\]\s*(?P<title>.+)")
_SOLUTION_GATE = re.compile(r"\{solution-(?P<edge>start|end)\}[ \t]*(?P<label>\S*)")
_CHECK_CALL = re.compile(r"""check\(\s*["']([^"']+)["']""")


class ExerciseConventionError(SphinxError):
    category = "Exercise convention"


def notebook_exercises(nb: dict[str, Any]) -> list[dict[str, Any]]:
    """Every exercise of a notebook: label, kind, minutes, title, and the self-checks its solution runs.

    Raises :class:`ExerciseConventionError` for a title that does not start with
    ``[kind · N min]`` or names an unknown kind.
    """
    found: list[dict[str, Any]] = []
    by_label: dict[str, dict[str, Any]] = {}
    current = None
    for cell in nb.get("cells", []):
        text = _source_text(cell)
        if cell.get("cell_type") == "markdown":
            for match in _EXERCISE.finditer(text):
                heading = _HEADING.match(match.group("title").strip())
                if not heading or heading.group("kind") not in EXERCISE_KINDS:
                    raise ExerciseConventionError(
                        f"exercise {match.group('label')}: the title must start with "
                        f"'[kind · N min]' with kind one of {', '.join(EXERCISE_KINDS)}; "
                        f"got {match.group('title').strip()!r}")
                entry = {"label": match.group("label"), "kind": heading.group("kind"),
                         "minutes": int(heading.group("minutes")), "title": heading.group("title"),
                         "checks": []}
                found.append(entry)
                by_label[entry["label"]] = entry
            for gate in _SOLUTION_GATE.finditer(text):  # in order: a cell may end one and start the next
                current = by_label.get(gate.group("label")) if gate.group("edge") == "start" else None
        elif current is not None:
            current["checks"] += [c for c in _CHECK_CALL.findall(text) if c not in current["checks"]]
    return found


def chapter_numbers(root: str | Path) -> dict[str, int]:
    """Chapter number of each chapter document, from its place in ``_toc.yml``: the files of the
    part captioned "Chapters" are chapters 1, 2, ... in order (never typed by hand)."""
    import yaml

    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text(encoding="utf-8"))
    for part in toc.get("parts", []):
        if str(part.get("caption", "")).lower() == "chapters":
            return {entry["file"]: number
                    for number, entry in enumerate(part.get("chapters", []), start=1)}
    return {}


def numbered_exercises(root: str | Path) -> list[dict[str, Any]]:
    """Every exercise of the book in reading order, each with ``number`` "chapter.n" (the one
    number the book, the exercise index, the instructor guide and the gradebook use),
    ``chapter`` (number) and ``doc`` (the chapter's document name) added."""
    found = []
    for doc, chapter in chapter_numbers(root).items():
        path = Path(root) / f"{doc}.ipynb"
        if path.exists():
            for n, exercise in enumerate(notebook_exercises(read_notebook(path)), start=1):
                found.append({**exercise, "number": f"{chapter}.{n}", "chapter": chapter,
                              "doc": doc})
    return found


class exercise_index(nodes.General, nodes.Element):
    """Placeholder replaced by the exercise table once all documents are read."""


class ExerciseIndexDirective(CourseStatusDirective):
    """``{exercise-index}``: every exercise of the book by chapter, kind and time."""

    placeholder = exercise_index


_INLINE_MATH = re.compile(r"(?<!\\)\$([^$\n]+?)(?<!\\)\$")


def _with_math(text: str) -> list[nodes.Node]:
    """``text`` as docutils nodes, each ``$...$`` as typeset inline math."""
    parts: list[nodes.Node] = []
    position = 0
    for match in _INLINE_MATH.finditer(text):
        if match.start() > position:
            parts.append(nodes.Text(text[position:match.start()]))
        parts.append(nodes.math(match.group(0), match.group(1)))
        position = match.end()
    if position < len(text):
        parts.append(nodes.Text(text[position:]))
    return parts


def _build_exercise_table(app: Sphinx, fromdocname: str) -> nodes.table:
    env = app.env
    headers = ["No.", "Chapter", "Exercise", "Kind", "Time (min)", "Self-check"]
    notebooks = dict(_notebook_docs(env))
    table, body = _empty_table("exercise-index", headers, (6, 20, 38, 10, 8, 16))
    for exercise in numbered_exercises(app.srcdir):
        docname = exercise["doc"]
        if docname not in notebooks:
            continue
        title = env.titles.get(docname)
        chapter = title.astext() if title is not None else docname
        uri = app.builder.get_relative_uri(fromdocname, docname) + "#" + exercise["label"]
        link = nodes.reference("", "", internal=True, refuri=uri)
        link.extend(_with_math(exercise["title"]))
        if _INLINE_MATH.search(exercise["title"]):
            # math made after reading: tell the math domain, or MathJax is not put on the page
            env.get_domain("math").data["has_equations"][fromdocname] = True
        row = nodes.row()
        row += _cell(exercise["number"])
        row += _cell(chapter)
        row += _cell(link)
        row += _cell(exercise["kind"])
        row += _cell(str(exercise["minutes"]))
        row += _cell(", ".join(exercise["checks"]) or "— (prose answer)")
        body += row
    return table


def render_exercise_indexes(app: Sphinx, doctree: nodes.document, fromdocname: str) -> None:
    for node in doctree.findall(exercise_index):
        node.replace_self(_build_exercise_table(app, fromdocname))


def number_exercises_by_chapter(app: Sphinx, env: Any) -> list[str]:
    """``env-get-updated`` (after Sphinx numbers figures): exercise ``n`` of chapter ``c`` is
    "Exercise c.n" in its box, its solution and every reference, the number
    :func:`numbered_exercises` gives the index, the instructor guide and the gradebook."""
    for docname, chapter in chapter_numbers(app.srcdir).items():
        numbers = env.toc_fignumbers.get(docname, {}).get("exercise")
        if numbers:
            for n, node_id in enumerate(sorted(numbers, key=numbers.get), start=1):
                numbers[node_id] = (chapter, n)
    return []


def drop_doubled_exercise_word(app: Sphinx, doctree: nodes.document, fromdocname: str) -> None:
    """``doctree-resolved``: "exercise {ref}`ex-...`" renders as "exercise Exercise 2.5";
    keep only the link's own word."""
    for reference in list(doctree.findall(nodes.reference)):
        if not reference.astext().startswith("Exercise ") or reference.parent is None:
            continue
        siblings = reference.parent.children
        before = siblings.index(reference) - 1
        while (before >= 0 and isinstance(siblings[before], nodes.Text)
               and not siblings[before].astext().strip()):  # a soft line break
            before -= 1
        if before >= 0 and isinstance(siblings[before], nodes.Text):
            text = siblings[before].astext()
            trimmed = re.sub(r"(?i)\bexercises?\s*$", "", text)
            if trimmed != text:
                reference.parent.replace(siblings[before], nodes.Text(trimmed))


def share_html_visitors(app: Sphinx) -> None:
    """``builder-inited``: the one-page builder (``singlehtml``, used by ``make pdf``) gets
    every node visitor registered for ``html`` that it lacks. Once any extension registers a
    visitor for ``singlehtml`` by name, Sphinx stops falling back to the ``html`` ones, and
    sphinx-proof's nodes (registered for ``html`` only) would fail the build."""
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    own = handlers.setdefault("singlehtml", {})
    for node, visitors in handlers.get("html", {}).items():
        own.setdefault(node, visitors)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("coursetools_budget_seconds", BUDGET_SECONDS, "env", [float, int])
    app.add_config_value("coursetools_goal_seconds", GOAL_SECONDS, "env", [float, int])
    app.add_config_value("coursetools_suite_record", SUITE_RECORD, "env", [str])
    app.add_node(course_status)
    app.add_directive("course-status", CourseStatusDirective)
    app.add_node(exercise_index)
    app.add_directive("exercise-index", ExerciseIndexDirective)
    app.connect("doctree-resolved", render_exercise_indexes)
    app.connect("doctree-resolved", drop_doubled_exercise_word)
    app.connect("builder-inited", share_html_visitors)
    app.connect("env-get-updated", number_exercises_by_chapter, priority=900)
    app.connect("config-inited", drop_injected_vendor_files, priority=900)
    app.connect("env-before-read-docs", check_stored_outputs)
    app.connect("doctree-resolved", render_status_tables)
    app.connect("html-page-context", drop_unused_thebe_scripts, priority=900)
    return {
        "version": __version__,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
