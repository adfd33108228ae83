"""The glossary: one entry per term, A to Z, each linked from the chapters by a phrase."""

from __future__ import annotations

import importlib.util
import re

from bookbuild import ROOT

GLOSSARY = ROOT / "book" / "glossary.md"


def entries() -> dict[str, list[str]]:
    """Each term of the glossary directive with its definition, in the page's order."""
    body = GLOSSARY.read_text(encoding="utf-8").split("```{glossary}", 1)[1]
    body = body.rsplit("```", 1)[0]
    found: dict[str, list[str]] = {}
    order = []
    for block in re.split(r"\n\s*\n", body.strip()):
        term, *definition = block.splitlines()
        order.append(term)
        found.setdefault(term, []).append(" ".join(line.strip() for line in definition))
    entries.order = order
    return found


def phrases() -> dict[str, list[str]]:
    spec = importlib.util.spec_from_file_location("link_glossary",
                                                  ROOT / "tools" / "link_glossary.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PHRASES


def test_each_term_once_and_in_alphabetical_order():
    found = entries()
    repeated = sorted(term for term, defs in found.items() if len(defs) > 1)
    assert not repeated, f"terms defined more than once: {repeated}"
    order = entries.order
    assert order == sorted(order, key=str.lower), (
        f"terms out of A-Z order: "
        f"{[(a, b) for a, b in zip(order, order[1:]) if a.lower() > b.lower()]}")


def test_each_definition_names_its_chapter_and_is_one_entry():
    for term, (definition,) in entries().items():
        assert re.search(r"chapters? \d", definition), (
            f"{term!r} does not say which chapter introduces it")
        assert len(definition) < 600, f"{term!r} reads like two entries run together"


def test_every_term_has_phrases_for_the_linking_tool_and_no_phrase_is_orphaned():
    terms, table = set(entries()), phrases()
    assert not sorted(terms - set(table)), (
        f"terms with no phrase in tools/link_glossary.py: {sorted(terms - set(table))}")
    assert not sorted(set(table) - terms), (
        f"phrases for terms the glossary lacks: {sorted(set(table) - terms)}")
    empty = [term for term, words in table.items() if not words]
    assert not empty, f"terms with an empty phrase list: {empty}"
