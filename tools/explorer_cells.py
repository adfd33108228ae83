"""Let the book show every chapter's explorer (its offline control of precomputed frames).

Usage: python tools/explorer_cells.py --check | --fix [NOTEBOOK ...]

An explorer cell is a code cell whose last line displays an explorer (``...Explorer(...)``).
Its output carries both the live widget (notebooks) and the offline control (the book), so it
must not be tagged ``remove-output``; ``nbval-ignore-output`` stays (frames are pictures).
``--check`` lists explorer cells still tagged ``remove-output`` and exits with 1; ``--fix``
removes that tag (then re-execute the chapter: ``make execute``).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
EXPLORER_LINE = re.compile(r"Explorer\([^\n]*\)\s*$")
HIDDEN = "remove-output"


def explorer_cells(nb) -> list:
    """The notebook's code cells that end by displaying an explorer."""
    return [c for c in nb.cells if c.cell_type == "code" and EXPLORER_LINE.search(c.source)]


def hidden(nb) -> list:
    """Explorer cells whose output the book would remove."""
    return [c for c in explorer_cells(nb) if HIDDEN in c.metadata.get("tags", [])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true")
    action.add_argument("--fix", action="store_true")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(REPO.glob("book/[0-9][0-9]_*.ipynb"))
    found = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cells = hidden(nb)
        found += len(cells)
        if cells and args.fix:
            for cell in cells:
                cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t != HIDDEN]
            nbformat.write(nb, path)
            print(f"{path.name}: {len(cells)} explorer cell(s) shown in the book")
        elif cells:
            print(f"{path.name}: {len(cells)} explorer cell(s) tagged {HIDDEN}", file=sys.stderr)
    return 1 if found and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
