"""Build the student edition: the book and notebooks with every solution removed.

Usage: python tools/student_edition.py [--out student] [--no-execute] [--no-build]

From the one source (the chapters in ``book/``) this writes ``<out>/``, a copy of the book in
which

* every ``{solution}`` block in markdown is deleted;
* every gated solution (``{solution-start}`` ... ``{solution-end}``) is deleted, prose and all,
  except that each code cell tagged ``solution`` inside it becomes a **stub** (tagged
  ``student-stub``) where the learner writes an answer and runs the same self-check, which
  reports "not yet solved" until they do;
* all other cells keep their source;
* instructor-only pages (:data:`INSTRUCTOR_ONLY`: the instructor guide, which names answers and
  discusses them) are left out, files and table-of-contents entries both. The grading key and
  rules (``grading/``) are never copied: only ``book/`` and the two configuration files are.

It then runs each student notebook top to bottom (``tools/execute_notebooks.py``), which proves
that the stubs do not break the notebook and stores their "not yet solved" verdicts, and builds
``<out>/_build/html`` with warnings as errors. ``make student`` runs all of this.
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTION_TAG = "solution"
STUB_TAG = "student-stub"
#: Pages of the full edition only (document names as in _toc.yml).
INSTRUCTOR_ONLY = ("book/instructor",)
_CHECK_CALL = re.compile(r"""check\(\s*["']([^"']+)["']""")
_FENCE_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\s*\{(?P<name>[\w:-]+)\}")


def _text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _strip_markdown(markdown: str, inside_gate: bool) -> tuple[str, bool]:
    """Remove solution material from one markdown cell.

    Deletes ``{solution}`` blocks, and everything from a ``{solution-start}`` directive to the
    matching ``{solution-end}`` directive, which may lie in a later cell: ``inside_gate`` says
    whether the cell starts inside such a gated solution, and the second result whether it ends
    inside one.
    """
    out, skipping_to = [], None
    for line in markdown.splitlines(keepends=True):
        if skipping_to is not None:  # inside a directive's own fence
            if line.strip() == skipping_to:
                skipping_to = None
            continue
        match = _FENCE_OPEN.match(line.lstrip())
        name = match.group("name") if match else None
        if inside_gate:
            if name == "solution-end":
                inside_gate, skipping_to = False, match.group("fence")
            continue
        if name in ("solution", "solution-start"):
            skipping_to = match.group("fence")
            inside_gate = name == "solution-start"
            continue
        out.append(line)
    if skipping_to is not None:
        raise ValueError("a solution directive's fence is never closed")
    text = "".join(out).strip("\n")
    return (text + "\n" if text else ""), inside_gate


def strip_solution_blocks(markdown: str) -> str:
    """Delete every fenced ``{solution}`` directive (with ``` or :::, any length) from markdown."""
    text, inside = _strip_markdown(markdown, False)
    if inside:
        raise ValueError("a {solution-start} has no matching {solution-end} in this text")
    return text


def stub_for(solution_cell: dict) -> dict:
    """The learner's stub that replaces one solution code cell."""
    ids = _CHECK_CALL.findall(_text(solution_cell))
    if ids:
        source = ("# Your solution: replace the ... with your answer, then run the cell.\n"
                  "answer = ...\n"
                  + "".join(f'check("{exercise}", answer)\n' for exercise in dict.fromkeys(ids)))
    else:
        source = "# Your solution here.\n...\n"
    return {"cell_type": "code", "execution_count": None, "id": solution_cell.get("id", "stub"),
            "metadata": {"tags": [STUB_TAG]}, "outputs": [], "source": source.rstrip("\n")}


def student_notebook(nb: dict) -> dict:
    """A copy of notebook ``nb`` with solutions removed and solution code replaced by stubs."""
    result = copy.deepcopy(nb)
    cells, inside_gate = [], False
    for cell in result["cells"]:
        tags = cell.get("metadata", {}).get("tags", []) or []
        if cell["cell_type"] == "code":
            if SOLUTION_TAG in tags:
                cells.append(stub_for(cell))
            elif not inside_gate:
                cells.append(cell)
            continue
        cell["source"], inside_gate = _strip_markdown(_text(cell), inside_gate)
        if cell["source"].strip():
            cells.append(cell)
    if inside_gate:
        raise ValueError("a {solution-start} has no matching {solution-end}")
    result["cells"] = cells
    return result


def student_toc(toc: str, drop: tuple[str, ...] = INSTRUCTOR_ONLY) -> str:
    """``_toc.yml`` text without the entries of the pages ``drop`` (:data:`INSTRUCTOR_ONLY`)."""
    for doc in drop:
        toc = re.sub(rf"^[ \t]*- file:\s*{re.escape(doc)}\s*\n", "", toc, flags=re.MULTILINE)
    return toc


def toc_notebooks(root: Path) -> list[Path]:
    """Notebooks of the book, from the files named in _toc.yml that exist as .ipynb."""
    names = re.findall(r"file:\s*(\S+)", (root / "_toc.yml").read_text(encoding="utf-8"))
    return [root / f"{name}.ipynb" for name in names if (root / f"{name}.ipynb").exists()]


def write_edition(out: Path, transform=None,
                  drop: tuple[str, ...] = INSTRUCTOR_ONLY) -> list[Path]:
    """Copy the book to ``out``, each notebook passed through ``transform``; return them.

    ``transform`` (default :func:`student_notebook`) maps a notebook (a dict) to the one
    written; ``drop`` names the pages left out (default :data:`INSTRUCTOR_ONLY`).
    tools/lab_edition.py writes its edition with this too.
    """
    transform = student_notebook if transform is None else transform
    if out.resolve() == REPO.resolve():
        raise ValueError("an edition must go to a folder other than the repository")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copy2(REPO / "_config.yml", out / "_config.yml")
    (out / "_toc.yml").write_text(
        student_toc((REPO / "_toc.yml").read_text(encoding="utf-8"), drop), encoding="utf-8")
    shutil.copytree(REPO / "book", out / "book",
                    ignore=shutil.ignore_patterns("*.ipynb", "__pycache__", ".ipynb_checkpoints"))
    for doc in drop:
        for page in (out / doc).parent.glob(Path(doc).name + ".*"):
            page.unlink()
    written = []
    for source in toc_notebooks(REPO):
        nb = json.loads(source.read_text(encoding="utf-8"))
        target = out / source.relative_to(REPO)
        target.write_text(json.dumps(transform(nb), indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
        written.append(target)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="student", help="output folder (default: student)")
    parser.add_argument("--no-execute", action="store_true",
                        help="keep the full edition's stored outputs instead of re-running")
    parser.add_argument("--no-build", action="store_true", help="do not build the HTML book")
    args = parser.parse_args()
    out = (REPO / args.out) if not Path(args.out).is_absolute() else Path(args.out)
    notebooks = write_edition(out)
    print(f"student notebooks: {', '.join(str(p.relative_to(out)) for p in notebooks)} in {out}")
    if not args.no_execute:
        run = subprocess.run([sys.executable, str(REPO / "tools" / "execute_notebooks.py"),
                              *map(str, notebooks)])
        if run.returncode:
            return run.returncode
    if args.no_build:
        return 0
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    build = subprocess.run([str(jupyter_book), "build", str(out),
                            "--warningiserror", "--nitpick", "--keep-going"])
    if build.returncode == 0:
        print(f"Student book built: open {out / '_build' / 'html' / 'index.html'}")
    return build.returncode


if __name__ == "__main__":
    sys.exit(main())
