"""The welcome page links the instructor guide, and the student edition's page does not."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

from docutils import nodes
from sphinx import addnodes

from bookbuild import ROOT, built_html


def role_module():
    path = ROOT / "book" / "_ext" / "guidelink.py"
    spec = importlib.util.spec_from_file_location("guidelink", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def inliner(found_docs):
    env = SimpleNamespace(found_docs=set(found_docs), docname="book/intro")
    return SimpleNamespace(document=SimpleNamespace(settings=SimpleNamespace(env=env)))


def test_role_links_the_guide_when_the_edition_has_it():
    module = role_module()
    (node,), messages = module.instructor_guide_role(
        "instructor-guide", "{instructor-guide}`guide`", "guide", 1,
        inliner({"book/intro", "book/instructor"}))
    assert not messages, messages
    assert isinstance(node, addnodes.pending_xref), type(node)
    assert (node["reftype"], node["reftarget"]) == ("doc", "/book/instructor"), node.attributes
    assert node.astext() == "guide", node.astext()


def test_role_writes_plain_text_when_the_guide_is_left_out():
    module = role_module()
    (node,), _ = module.instructor_guide_role(
        "instructor-guide", "{instructor-guide}`guide`", "guide", 1, inliner({"book/intro"}))
    assert isinstance(node, nodes.inline) and not isinstance(node, addnodes.pending_xref)
    assert node.astext() == "guide" + module.MISSING, node.astext()


def test_welcome_source_uses_the_role():
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    assert "{instructor-guide}`" in intro, "book/intro.md does not link the instructor guide"


def test_built_welcome_page_links_the_instructor_guide(book_build):
    page = (built_html(book_build) / "book" / "intro.html").read_text(encoding="utf-8")
    assert 'href="instructor.html"' in page, "the welcome page has no link to the guide"
