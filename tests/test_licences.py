"""Licences, citation and changelog: present, consistent with pyproject.toml, stated in the
book footer and the README."""
from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_code_licence_matches_pyproject():
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]["text"]
    assert declared == "MIT", f"pyproject.toml declares {declared!r}, LICENSE is MIT"
    assert licence.startswith("MIT License"), "LICENSE is not the MIT licence text"
    assert "Permission is hereby granted, free of charge" in licence, "MIT grant missing"


def test_content_licence_names_cc_by():
    text = (ROOT / "LICENSE-CONTENT.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in text and "creativecommons.org/licenses/by/4.0" in text, \
        "LICENSE-CONTENT.md must name CC BY 4.0 and link its legal code"


def test_footer_and_readme_state_both_licences():
    footer = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["extra_footer"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for where, text in (("book footer", footer), ("README", readme)):
        assert "CC BY 4.0" in text, f"{where} does not state the content licence"
        assert "MIT" in text, f"{where} does not state the code licence"


def test_citation_file_is_valid_cff():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    missing = {"cff-version", "message", "title", "authors"} - set(cff)
    assert not missing, f"CITATION.cff lacks required keys {sorted(missing)}"
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert str(cff["version"]) == version, \
        f"CITATION.cff version {cff['version']} differs from pyproject.toml {version}"
    assert cff["license"] == "MIT"


def test_changelog_has_this_release():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {version}" in text, f"CHANGELOG.md has no section for version {version}"
