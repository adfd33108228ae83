"""Write the book configuration with launch buttons for one public repository.

Usage: python tools/launch_config.py --url https://github.com/ORG/REPO [--branch main]
                                     [--out _build/launch/_config.yml]

The committed ``_config.yml`` names no repository, so the book has no launch buttons. Given the
repository's address, this writes a generated configuration (never committed: it goes under
``_build/``) that is ``_config.yml`` plus

* ``repository: {url, branch, path_to_book}``: the chapters' launch links then point at
  ``book/NN_topic.ipynb`` on that branch;
* ``launch_buttons``: Binder (mybinder.org, JupyterLab) for any https git host, and Colab for
  GitHub repositories (Colab opens notebooks from GitHub only);
* ``html.use_repository_button``: a link to the repository in every page's header.

``make book REPO_URL=... [REPO_BRANCH=...]`` runs it and passes the file to
``jupyter-book build --config``. Relative paths that Jupyter Book resolves against the
configuration file's folder (``sphinx.local_extensions``) are rewritten for the new location.

Colab runs a chapter as it is stored in the repository, so its first cell can install
``symcourse`` only if it names the repository (``tools/colab_cell.py``): chapters whose install
cell names another repository, or none, are listed with the command that fixes them.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path("_build") / "launch" / "_config.yml"
BINDERHUB_URL = "https://mybinder.org"
COLAB_URL = "https://colab.research.google.com"
#: Branch names: letters, digits and ``._/-``, not starting with ``-`` or ``/``.
_BRANCH = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._/-]*")


def repository_url(url: str) -> str:
    """``url`` without a trailing ``/`` or ``.git``, if it is ``https://HOST/OWNER/NAME``.

    Raises ValueError saying what is wrong otherwise.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("the repository URL is empty: give https://HOST/OWNER/NAME")
    url = url.strip().rstrip("/")
    url = url[: -len(".git")] if url.endswith(".git") else url
    parts = urlsplit(url)
    path = [p for p in parts.path.split("/") if p]
    if parts.scheme != "https" or not parts.netloc or len(path) != 2 \
            or parts.query or parts.fragment or any(c.isspace() for c in url):
        raise ValueError(f"the repository URL must look like https://HOST/OWNER/NAME "
                         f"(e.g. a GitHub repository), got {url!r}")
    return url


def branch_name(branch: str) -> str:
    """``branch`` if it is a plausible git branch name; ValueError otherwise."""
    if not isinstance(branch, str) or not _BRANCH.fullmatch(branch) or ".." in branch:
        raise ValueError(f"the branch must be a git branch name such as main, got {branch!r}")
    return branch


def launch_settings(url: str, branch: str = "main") -> dict:
    """The configuration blocks that turn the launch buttons on for one repository."""
    url, branch = repository_url(url), branch_name(branch)
    buttons = {"binderhub_url": BINDERHUB_URL, "notebook_interface": "jupyterlab"}
    if urlsplit(url).netloc.lower() in ("github.com", "www.github.com"):
        buttons["colab_url"] = COLAB_URL
    # path_to_book is where _config.yml sits inside the repository: at its root here, so the
    # pages' own names (book/NN_topic) are already their paths in the repository.
    return {"repository": {"url": url, "branch": branch, "path_to_book": ""},
            "launch_buttons": buttons,
            "html": {"use_repository_button": True}}


def launch_config(base: dict, url: str, branch: str, base_dir: Path, out_dir: Path) -> dict:
    """``base`` (a parsed ``_config.yml`` from ``base_dir``) with the launch settings added and
    its local-extension paths made relative to ``out_dir``, where the result will be written."""
    config = dict(base)
    for key in ("repository", "launch_buttons"):
        if key in config:
            raise ValueError(f"_config.yml already has a {key}: block; remove it, the launch "
                             "settings come from this tool")
    settings = launch_settings(url, branch)
    config.update({k: v for k, v in settings.items() if k != "html"})
    config["html"] = {**(config.get("html") or {}), **settings["html"]}
    sphinx = dict(config.get("sphinx") or {})
    if sphinx.get("local_extensions"):
        sphinx["local_extensions"] = {
            name: os.path.relpath((base_dir / path).resolve(), out_dir.resolve())
            for name, path in sphinx["local_extensions"].items()}
        config["sphinx"] = sphinx
    return config


def write_launch_config(url: str, branch: str = "main", out: Path = DEFAULT_OUT,
                        base: Path = REPO / "_config.yml") -> Path:
    """Write the configuration with launch buttons to ``out``; return its path."""
    out = out if out.is_absolute() else REPO / out
    config = launch_config(yaml.safe_load(base.read_text(encoding="utf-8")), url, branch,
                           base.parent, out.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = ("# Generated by tools/launch_config.py from _config.yml: do not edit, do not "
              "commit.\n")
    out.write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
                   encoding="utf-8")
    return out


def install_cell_mismatches(url: str, branch: str, root: Path = REPO) -> list[str]:
    """Chapters under ``root`` whose install cell (tools/colab_cell.py) would not install
    ``symcourse`` from this repository and branch in Colab."""
    import colab_cell  # beside this file; it imports this module, so not at the top

    want = (repository_url(url), branch_name(branch))
    found = []
    for path in colab_cell.chapter_notebooks(root):
        named = colab_cell.installs_from(colab_cell.read(path))
        if named != want:
            what = "has no install cell" if named is None else \
                f"installs from {named[0] or 'no repository'} ({named[1]})"
            found.append(f"{path.relative_to(root)} {what}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the public repository, https://HOST/OWNER/NAME")
    parser.add_argument("--branch", default="main", help="branch the buttons open (default: main)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"where to write the configuration (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        out = write_launch_config(args.url, args.branch, args.out)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    url = repository_url(args.url)
    print(f"launch configuration for {url} ({args.branch}): {out}")
    mismatches = install_cell_mismatches(url, args.branch)
    if mismatches:
        print("note: in Colab these chapters will say how to install symcourse instead of "
              "installing it:\n  " + "\n  ".join(mismatches) + "\n  To install it "
              f"automatically: make install-cells REPO_URL={url} REPO_BRANCH={args.branch}, "
              "then commit the chapters.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
