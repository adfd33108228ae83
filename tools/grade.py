"""Grade a folder of submitted student notebooks: ``make grade SUBMISSIONS=dir``.

Usage: python tools/grade.py SUBMISSIONS [--out grades] [--chapter 03_symmetry] [--jobs 2]
       [--cell-timeout 120] [--timeout 600] [--memory-gb 4]
       python tools/grade.py --make-key            (instructors: refresh grading/key.json)

Every ``*.ipynb`` under SUBMISSIONS (read only, never modified) is one submission. Its chapter
is the chapter file name it contains (``alice_03_symmetry.ipynb``, ``alice/03_symmetry.ipynb``),
else ``--chapter``, else the chapter whose self-checks it calls; the student is the rest of the
name (or the sub-folder). Each submission runs in its own sandboxed process
(``grading/sandbox.py``: own temporary copy, time and memory limits, instructor folders hidden
where Linux allows), and each exercise with a self-check gets a verdict with its reason
(``grading/rules.py``). Output in ``--out``: ``gradebook.csv``, ``details.csv``, ``report.md``,
``report.html`` (``grading/report.py``). Exercises with prose answers are graded by hand.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "book" / "_ext")]
from coursetools import numbered_exercises  # noqa: E402

from grading import report, rules  # noqa: E402
from grading.sandbox import Limits, namespaces_available, read_submission, run_submission  # noqa: E402


def graded_exercises() -> dict[str, list[dict]]:
    """Chapter document stem -> its exercises with self-checks, ``{"id", "number", "title"}``."""
    chapters: dict[str, list[dict]] = {}
    for exercise in numbered_exercises(REPO):
        stem = Path(exercise["doc"]).name
        for n, check in enumerate(exercise["checks"]):
            number = exercise["number"] + (f"{chr(97 + n)}" if len(exercise["checks"]) > 1 else "")
            chapters.setdefault(stem, []).append(
                {"id": check, "number": number, "title": exercise["title"]})
    return chapters


def identify(path: Path, root: Path, chapters: dict, default: str | None) -> tuple[str | None, str]:
    """``(chapter stem or None, student)`` for the submission at ``path``."""
    relative = path.relative_to(root)
    name = relative.stem
    chapter = next((stem for stem in chapters if stem in str(relative)), None)
    student = name.replace(chapter, "") if chapter else name
    student = student.strip("_- .") or (relative.parts[0] if len(relative.parts) > 1 else name)
    if len(relative.parts) > 1:
        student = relative.parts[0] if not student or chapter == name else f"{relative.parts[0]}/{student}"
    if chapter is None:
        chapter = default
    if chapter is None:
        nb = read_submission(path)
        if not isinstance(nb, str):
            from grading.sandbox import check_cells
            called = set(check_cells(nb))
            best = max(chapters, key=lambda s: len(called & {e["id"] for e in chapters[s]}))
            chapter = best if called & {e["id"] for e in chapters[best]} else None
    return chapter, student


def grade(root: Path, out: Path, chapter: str | None, jobs: int, limits: Limits) -> dict:
    """Grade every submission under ``root``; write the gradebook into ``out``."""
    root, out = root.resolve(), out.resolve()
    if out == root or root in out.parents:
        raise SystemExit("--out must not lie inside the submissions folder (it is never modified)")
    chapters = graded_exercises()
    files = sorted(p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not files:
        raise SystemExit(f"no .ipynb files under {root}")
    key = rules.load_key()
    isolated = namespaces_available()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        runs = list(pool.map(lambda p: run_submission(p, limits, hide=[root, out],
                                                      isolate=isolated), files))
    seconds = time.perf_counter() - start
    rows, used = [], []
    for path, run in zip(files, runs):
        stem, student = identify(path, root, chapters, chapter)
        exercises = chapters.get(stem, [])
        if stem not in used and stem is not None:
            used.append(stem)
        if not exercises:
            verdicts = {"(chapter)": (rules.COULD_NOT_RUN, "cannot tell which chapter this is: "
                                      "name the file after it or pass --chapter")}
        else:
            verdicts = {e["id"]: rules.verdict(e["id"], run, key) for e in exercises}
        rows.append({"student": student, "file": str(path.relative_to(root)),
                     "verdicts": verdicts, "run": run})
    exercises = [e for stem in used for e in chapters[stem]]
    if any("(chapter)" in r["verdicts"] for r in rows):
        exercises.append({"id": "(chapter)", "number": "?", "title": "chapter not recognised"})
    notes = [f"Graded {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC: {len(files)} "
             f"submissions in {seconds:.1f} s, {jobs} at a time.",
             f"Limits per submission: {limits.cell_seconds:.0f} s per cell, "
             f"{limits.total_seconds:.0f} s in all, {limits.memory_bytes / 2**30:.1f} GB of memory. "
             + ("Each ran with the instructor's folders hidden (Linux namespaces)." if isolated
                else "Linux namespaces are not available here: submissions ran in their own "
                     "process and folder, but could read files elsewhere on this machine."),
             "Exercises answered in prose are not in this table: grade them by hand."]
    paths = report.write(out, rows, exercises, notes)
    return {"rows": rows, "exercises": exercises, "seconds": seconds, "paths": paths}


def make_key(limits: Limits, jobs: int = 1, only_missing: bool = False) -> Path:
    """Run the full edition's chapters with the recorder; the answers their solutions give are
    the key (``grading/key.json``, written after each chapter). ``only_missing`` skips chapters
    whose answers are all in the key already."""
    chapters = graded_exercises()
    key = rules.load_key() if only_missing else {}
    todo = [stem for stem, exercises in chapters.items()
            if not (only_missing and all(e["id"] in key for e in exercises))]
    lock = threading.Lock()

    def harvest(stem: str) -> None:
        run = run_submission(REPO / "book" / f"{stem}.ipynb", limits)
        exercises = chapters[stem]
        missing = [e["id"] for e in exercises if e["id"] not in run.answers]
        if run.status != "ran" or run.errors or missing:
            print(f"{stem}: FAILED {run.status} {run.message} errors={run.errors} "
                  f"missing={missing}", flush=True)
            return
        with lock:
            for e in exercises:
                key[e["id"]] = {k: v for k, v in run.answers[e["id"]].items() if k != "cell"}
            rules.KEY_PATH.write_text(json.dumps(key, indent=1, sort_keys=True) + "\n",
                                      encoding="utf-8")
        print(f"{stem}: {len(exercises)} answers, {run.seconds:.1f} s", flush=True)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(harvest, todo))
    return rules.KEY_PATH


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", nargs="?", type=Path)
    parser.add_argument("--out", type=Path, default=Path("grades"))
    parser.add_argument("--chapter", help="chapter for files whose name does not say it")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cell-timeout", type=float, default=120.0)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per submission")
    parser.add_argument("--memory-gb", type=float, default=4.0)
    parser.add_argument("--make-key", action="store_true")
    parser.add_argument("--only-missing", action="store_true",
                        help="with --make-key: run only chapters with answers not in the key")
    args = parser.parse_args()
    limits = Limits(args.cell_timeout, args.timeout, int(args.memory_gb * 2**30))
    if args.make_key:
        path = make_key(Limits(600, 1800, limits.memory_bytes), args.jobs, args.only_missing)
        print(f"key: {path}")
        return 0
    if args.submissions is None or not args.submissions.is_dir():
        parser.error("give the folder of submissions (SUBMISSIONS=dir)")
    result = grade(args.submissions, args.out, args.chapter, args.jobs, limits)
    print(f"graded {len(result['rows'])} submissions in {result['seconds']:.1f} s; "
          + ", ".join(str(p) for p in result["paths"].values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
