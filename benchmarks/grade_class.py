"""Time grading a class: 30 submissions of one chapter, one bad submission of each kind.

Usage: python benchmarks/grade_class.py [--chapter 03_symmetry] [--students 30] [--jobs 2]
                                        [--keep DIR]

Makes the class from the chapter itself: the full edition (all solved), the student edition
(nothing attempted), and mixtures in which each solution cell is kept, left as the student
stub, or answered wrongly; then replaces five of them with a crash (the kernel exits), an
endless loop, a submission that deletes every folder it can name, a memory hog and a file that
is not valid JSON. Grades the folder with ``tools/grade.py`` and prints the time and the
verdict counts, and fails if the submissions folder changed. ``--keep DIR`` leaves the submissions and the gradebook in DIR.
"""
from __future__ import annotations

import argparse
import collections
import copy
import json
import random
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tools"), str(REPO)]
import grade  # noqa: E402
import student_edition as se  # noqa: E402

from grading.sandbox import Limits, namespaces_available  # noqa: E402

HOSTILE = {
    "crash": "import os\nos._exit(3)",
    "loop": "while True:\n    pass",
    "vandal": "import os, shutil\nfor target in TARGETS:\n    shutil.rmtree(target, "
              "ignore_errors=True)\nshutil.rmtree(os.getcwd(), ignore_errors=True)",
    "hog": "hog = []\nwhile True:\n    hog.append(bytearray(200 * 2**20))",
}


def _code(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": source}


def mixture(full: dict, rng: random.Random) -> dict:
    """The full notebook with each solution cell kept, stubbed or answered wrongly."""
    nb = copy.deepcopy(full)
    for index, cell in enumerate(nb["cells"]):
        if se.SOLUTION_TAG in (cell.get("metadata", {}).get("tags") or []):
            choice = rng.choice(["keep", "keep", "stub", "wrong"])
            if choice == "stub":
                nb["cells"][index] = se.stub_for(cell)
            elif choice == "wrong":
                ids = se._CHECK_CALL.findall(se._text(cell))
                nb["cells"][index] = _code("".join(f'check("{i}", 12345.0)\n' for i in ids))
    return nb


def make_class(folder: Path, chapter: str, students: int, targets: list[str]) -> None:
    full = json.loads((REPO / "book" / f"{chapter}.ipynb").read_text(encoding="utf-8"))
    rng = random.Random(0)
    bad = {**HOSTILE, "vandal": HOSTILE["vandal"].replace("TARGETS", repr(targets))}
    for number in range(students):
        name = f"student{number:02d}_{chapter}.ipynb"
        if number == 0:
            nb = full
        elif number == 1:
            nb = se.student_notebook(full)
        elif number - 2 < len(bad):
            kind = list(bad)[number - 2]
            nb = copy.deepcopy(full)
            nb["cells"].insert(len(nb["cells"]) // 2, _code(bad[kind]))
            name = f"{kind}_{chapter}.ipynb"
        elif number - 2 == len(bad):
            (folder / f"garbled_{chapter}.ipynb").write_text(json.dumps(full)[:-100])
            continue
        else:
            nb = mixture(full, rng)
        (folder / name).write_text(json.dumps(nb), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", default="03_symmetry")
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        folder, out = base / "submissions", base / "grades"
        folder.mkdir(parents=True, exist_ok=True)
        # Without namespaces the deletions would succeed: then only a decoy is targeted.
        targets = ([str(REPO), str(folder), str(out)] if namespaces_available()
                   else [str(base / "decoy")])
        make_class(folder, args.chapter, args.students, targets)
        before = {p: p.read_bytes() for p in folder.iterdir()}
        result = grade.grade(folder, out, None, args.jobs, Limits())
        after = {p: p.read_bytes() for p in folder.iterdir()}
        assert after == before, "grading changed the submissions folder"
        counts = collections.Counter(v[0] for row in result["rows"]
                                     for v in row["verdicts"].values())
        print(f"{len(result['rows'])} submissions of {args.chapter}, {args.jobs} at a time: "
              f"time: {result['seconds']:.1f} s; verdicts {dict(counts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
