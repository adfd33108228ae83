"""tools/notation_check.py finds the symbols of chapter maths that the notation page lacks."""

from __future__ import annotations

import importlib.util

import nbformat

from bookbuild import ROOT


def tool():
    spec = importlib.util.spec_from_file_location("notation_check",
                                                  ROOT / "tools" / "notation_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chapter(tmp_path, *markdown):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(m) for m in markdown]
    path = tmp_path / "01_demo.ipynb"
    nbformat.write(nb, path)
    return path


def test_reports_a_symbol_the_notation_page_lacks(tmp_path):
    path = chapter(tmp_path, r"Let $\omega_k = x + \eta$ and", r"$$\frac{x}{\rho}$$")
    report = tool().missing([path], r"| $x$ | input | 1 |" "\n" r"| $\eta$ | rate | 1 |")
    assert set(report["01_demo.ipynb"]) == {r"\omega", "k", r"\rho"}, report
    assert report["01_demo.ipynb"][r"\omega"] == r"\omega_k = x + \eta", report


def test_ignores_words_in_text_and_common_operators(tmp_path):
    path = chapter(tmp_path, r"$\text{steps} = \max_k \sum_n \frac{T}{\eta}$")
    report = tool().missing([path], r"$k$, $n$, $T$, $\eta$")
    assert report == {}, report


def test_page_covering_everything_gives_an_empty_report(tmp_path):
    path = chapter(tmp_path, r"$a + b$")
    assert tool().missing([path], r"$a$ and $b$") == {}
