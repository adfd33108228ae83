"""Link each glossary term at its first use in the chapters (run once after adding terms).

Usage: python tools/link_glossary.py [--dry-run]

For every term of book/glossary.md, finds the first chapter markdown line (in table-of-contents
order) that uses one of the term's phrases outside code, maths, roles, links, headings and
directive lines, and wraps that use in {term}`text <Term>`. Terms already linked somewhere are
left alone, so the tool can be re-run after new chapters or terms are added.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
#: glossary term -> phrases that count as a use (matched case-insensitively at word starts)
PHRASES = {
    "Stall": ["stalls", "stall"], "Dead unit": ["dead unit"], "Orbit": ["orbit"],
    "Generator": ["generator"], "Translation symmetry": ["translation"],
    "Scale symmetry": ["scale symmetr"], "Rescale symmetry": ["rescale symmetr", "rescale"],
    "Permutation symmetry": ["permutation symmetr", "permutation"],
    "Conserved quantity": ["conserved quantit"], "Gradient flow": ["gradient flow"],
    "Lie bracket": ["lie bracket"], "Weight decay": ["weight decay"],
    "Heavy-ball momentum": ["heavy-ball momentum", "heavy ball", "momentum"],
    "Modified loss": ["modified loss"],
    "Implicit gradient regularisation": ["implicit gradient regulari"],
    "Exact recursion": ["exact recursion", "exact per-step recursion"],
    "Damping regime": ["overdamped", "underdamped", "critically damped"],
    "Balanced point": ["balanced point"], "Teleportation": ["teleportation"],
    "Bypassed unit": ["bypassed"], "Wilson interval": ["wilson"], "MNIST-1D": ["mnist-1d"],
    "Loss barrier": ["loss barrier"],
    "Linear mode connectivity": ["linearly mode connected", "mode connectivity"],
    "Weight matching": ["weight matching"], "Activation matching": ["activation matching"],
    "Model merging": ["merging", "merge"], "Mirror symmetry": ["mirror symmetr"],
    "Collapse threshold": ["collapse threshold"],
    "Angular update": ["angular update"], "Implicit bias": ["implicit bias"],
    "Data-dependent symmetry": ["data-dependent symmetr"],
    "McNemar test": ["mcnemar"], "Revival": ["revival", "revive"], "Load balancing": ["load balancing"],
    "Partition start": ["partition start"], "Bias nudging": ["bias nudging"],
    "Leaky max": ["leaky max", "straight-through"],
    "Dormant-unit recycling": ["recycling"],
    "Soft committee machine": ["soft committee machine"], "On-line learning": ["on-line"],
    "Order parameter": ["order-parameter", "order parameter"], "Symmetric plateau": ["symmetric plateau"],
    "Reducible network": ["reducible"], "Duplication embedding": ["unit duplication"],
    "Elimination embedding": ["unit elimination"], "Escape rate": ["escape rate"],
    "Natural gradient": ["natural gradient"], "Fisher information matrix": ["fisher information"],
    "Plateau": ["plateau"], "Trap": ["trap"],
    "Coinciding kinks": ["coinciding kink"], "Redundant vertex": ["redundant vertex"],
    "Equivariant training map": ["rotation-equivariant", "equivariant training"],
    "Critical momentum": ["critical momentum"],
    "Effective learning rate": ["effective learning rate"],
    "Gradient balance": ["gradient balance"], "Rebalancing": ["rebalancing"],
    "Fixed-point subspace": ["fixed-point"], "Flat direction": ["flat direction"],
    "Mixture of experts": ["mixture-of-experts", "mixture of experts"],
    "Modified equation analysis": ["modified equation analysis", "modified equation"],
    "Noether's theorem": ["noether's theorem"],
    "Positive homogeneity": ["positively homogeneous"],
    "Symmetric fixed point": ["symmetric fixed point"],
    "Symmetry-induced saddle": ["symmetry-induced saddle"], "Win region": ["win region"],
}
PROTECTED = re.compile(r"\{[^}]+\}`[^`]*`|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|\[[^\]]*\]\([^)]*\)")
WORD = r"[\w-]*"


def chapters() -> list[Path]:
    toc = (REPO / "_toc.yml").read_text()
    return [REPO / f"{m}.ipynb" for m in re.findall(r"file: (book/\d\d_\w+)", toc)]


def link_line(line: str, phrases: list[str], term: str) -> str | None:
    """The line with its first use of a phrase linked, or None when it has none."""
    if line.lstrip().startswith(("#", "```", ":", "|", "$$", ">")):
        return None
    pieces, last = [], 0
    for m in PROTECTED.finditer(line):
        pieces.append((line[last:m.start()], True))
        pieces.append((m.group(0), False))
        last = m.end()
    pieces.append((line[last:], True))
    for k, (text, free) in enumerate(pieces):
        if not free:
            continue
        for phrase in phrases:
            m = re.search(rf"(?<![\w-]){re.escape(phrase)}{WORD}", text, flags=re.IGNORECASE)
            if m:
                used = m.group(0)
                pieces[k] = (text[:m.start()] + f"{{term}}`{used} <{term}>`" + text[m.end():], True)
                return "".join(p for p, _ in pieces)
    return None


def main(dry_run: bool) -> None:
    books = {path: nbformat.read(path, as_version=4) for path in chapters()}
    everything = "\n".join(c.source for nb in books.values() for c in nb.cells
                           if c.cell_type == "markdown")
    for term, phrases in PHRASES.items():
        if f"<{term}>`" in everything:
            continue
        done = False
        for path, nb in books.items():
            for cell in nb.cells:
                if done or cell.cell_type != "markdown":
                    continue
                lines, in_math = cell.source.split("\n"), False
                for i, line in enumerate(lines):
                    if line.strip().startswith("$$"):
                        in_math = not in_math
                        continue
                    new = None if in_math else link_line(line, phrases, term)
                    if new is not None:
                        lines[i], done = new, True
                        cell.source = "\n".join(lines)
                        print(f"{term:>32}: {path.name}: {new.strip()[:90]}")
                        break
            if done:
                break
        if not done:
            print(f"{term:>32}: no use found")
    if not dry_run:
        for path, nb in books.items():
            nbformat.write(nb, path)


if __name__ == "__main__":
    main("--dry-run" in sys.argv[1:])
