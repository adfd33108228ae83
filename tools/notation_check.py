"""List the symbols of the chapters' maths that book/notation.md does not mention.

Usage: python tools/notation_check.py

Reads every ``$...$`` and ``$$...$$`` of the chapters' markdown cells, splits it into
symbols (Latin letters, Greek letters and other TeX commands, ``\\mathrm{...}`` names) and
prints, per chapter, those that appear nowhere in the notation page's maths, with the
first formula using each. It reports and changes nothing: run it after chapters change and
add a row (chapter-scoped where a letter already means something else) for each symbol
that a reader needs.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$]+)\$", re.S)
SYMBOL = re.compile(r"\\(?:mathrm|operatorname|mathbb|mathcal)\{[^}]*\}|\\[A-Za-z]+"
                    r"|(?<![A-Za-z\\])[A-Za-z](?![a-z])")
#: TeX layout, operators and functions every reader knows: never a notation row.
COMMON = set(r"""
\frac \tfrac \dfrac \left \right \big \Big \bigl \bigr \sum \prod \int \in \le \ge \leq \geq
\cdot \quad \qquad \top \infty \to \ln \log \exp \max \min \sqrt \partial \approx \ne \neq
\times \ldots \dots \cdots \lvert \rvert \lVert \rVert \vert \Vert \langle \rangle \odot \text
\mathrm \operatorname \mathbb \mathcal \mathbf \hat \tilde \widetilde \bar \overline \dot \ddot
\mid \pm \mp \propto \sim \equiv \tag \label \begin \end \leftarrow \rightarrow \mapsto
\displaystyle \lim \sup \inf \arg \det \sin \cos \tan \tanh \sinh \cosh \colon \forall \exists
\iff \implies \circ \subset \cup \cap \setminus \emptyset \lceil \rceil \lfloor \rfloor \ll \gg
\perp \nabla \prime \star \ast \vdots \ddots \phantom \hspace \Rightarrow \Longrightarrow
\underbrace \overbrace \boxed \binom \pi \dim \mathrm{id} \mathrm{sign} \mathrm{relu}
\operatorname{diag} \mathrm{diag} \operatorname{erf} \operatorname{sech} \operatorname{asinh}
\operatorname{softmax} \mathrm{softmax} \mathbb{R} \mathbb R \aligned \arcsin \quad e d O
""".split())


def chapter_maths(path: Path) -> list[str]:
    """The formulas of a chapter's markdown cells, in order."""
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return [m.group(1) or m.group(2) for m in MATH.finditer(text)]


def symbols(formula: str) -> set[str]:
    """The symbols of one formula, without text inside ``\\text{...}``."""
    formula = re.sub(r"\\text\{[^}]*\}", " ", formula)
    return {s for s in SYMBOL.findall(formula) if s not in COMMON}


def missing(chapters: list[Path], notation: str) -> dict[str, dict[str, str]]:
    """Per chapter file name: each symbol absent from the notation page -> first formula."""
    known = set().union(*(symbols(f) for f in (m.group(1) or m.group(2)
                                                 for m in MATH.finditer(notation))))
    report: dict[str, dict[str, str]] = {}
    for path in chapters:
        for formula in chapter_maths(path):
            for symbol in sorted(symbols(formula) - known):
                report.setdefault(path.name, {}).setdefault(symbol, " ".join(formula.split()))
    return report


def main() -> int:
    chapters = sorted((REPO / "book").glob("[0-9][0-9]_*.ipynb"))
    notation = (REPO / "book" / "notation.md").read_text(encoding="utf-8")
    report = missing(chapters, notation)
    for name, found in report.items():
        print(name)
        for symbol, formula in found.items():
            print(f"  {symbol:<16} {formula[:70]}")
    if not report:
        print("every symbol of the chapters' maths appears in book/notation.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
