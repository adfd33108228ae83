"""The package installs on every supported Python: 3.11, 3.12 and 3.13.

For each of these CPython versions that this machine has (a pyenv installation under
``$PYENV_ROOT`` or ``~/.pyenv``, else ``pythonX.Y`` on the PATH), pip, run by that
interpreter, is asked to install the project and every pinned runtime dependency, without
installing anything::

    pip install --dry-run --no-deps --ignore-installed --only-binary=:all: --report FILE . PINS

That reads the project's metadata (so pip checks ``requires-python``) and finds, for each pin,
a wheel of exactly that version for that interpreter (torch 2.13.0 included: pip reads the
index, it does not download the multi-GB wheel). ``--no-deps``: the unpinned transitive
dependencies are left to pip at install time; resolving them too costs minutes per version
over this machine's index (see README, "Python versions").

A version the machine lacks is skipped, and the skip says so. A Python just outside the range
(3.10, 3.14) must be refused with "requires a different Python".
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import pytest

from bookbuild import ROOT

SUPPORTED = ("3.11", "3.12", "3.13")
#: Versions just outside the declared range, checked for refusal where the machine has them.
OUTSIDE = ("3.10", "3.14")
TIMEOUT = 600  # seconds for one version (it waits on the package index)


def pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def find_python(minor: str) -> Path | None:
    """A CPython ``minor`` (e.g. "3.12") interpreter on this machine, or None."""
    candidates = sorted((pyenv_root() / "versions").glob(f"{minor}.*/bin/python{minor}"),
                        reverse=True)
    if shutil.which(f"python{minor}"):
        candidates.append(Path(shutil.which(f"python{minor}")))
    if sys.version.startswith(minor + "."):
        candidates.insert(0, Path(sys.executable))
    for python in candidates:
        try:
            found = subprocess.run(
                [str(python), "-c", "import platform, sys; print(platform.python_implementation(),"
                 " '%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, timeout=60)
        except OSError:
            continue
        if found.returncode == 0 and found.stdout.split() == ["CPython", minor]:
            return python
    return None


def pins() -> dict[str, str]:
    """The project's direct dependencies, name -> pinned version (pyproject.toml)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = {}
    for requirement in project["dependencies"]:
        name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", requirement).groups()
        found[name.lower().replace("_", "-")] = version
    return found


def resolve(python: Path, report: Path, with_pins: bool = True) -> subprocess.CompletedProcess:
    """pip of ``python`` resolves the project and each pinned dependency (or the project
    alone), installs nothing."""
    pinned = [f"{name}=={version}" for name, version in pins().items()] if with_pins else []
    return subprocess.run(
        [str(python), "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed",
         "--only-binary=:all:", "--disable-pip-version-check", "--quiet",
         "--report", str(report), str(ROOT), *pinned],
        capture_output=True, text=True, timeout=TIMEOUT)


@lru_cache(maxsize=1)
def resolutions(tmp: Path) -> dict[str, tuple[Path, subprocess.CompletedProcess] | None]:
    """Every supported version the machine has, resolved in parallel; None where it lacks one."""
    pythons = {minor: find_python(minor) for minor in SUPPORTED + OUTSIDE}
    with ThreadPoolExecutor(len(pythons)) as pool:
        jobs = {minor: pool.submit(resolve, python, tmp / f"report-{minor}.json",
                                   minor in SUPPORTED)
                for minor, python in pythons.items() if python is not None}
        return {minor: (tmp / f"report-{minor}.json", jobs[minor].result()) if minor in jobs
                else None for minor in pythons}


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    return resolutions(tmp_path_factory.mktemp("pip-reports"))


def test_the_declared_range_is_311_to_313():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == ">=3.11,<3.14", project["requires-python"]
    assert pins()["torch"] == "2.13.0", "torch must stay pinned to exactly 2.13.0"


#: These ask the package index about every pin for every Python (minutes when the index is slow),
#: so they run with `make test-registry` (SYMCOURSE_REGISTRY_TESTS=1), not in `make test`.
registry = pytest.mark.skipif(not os.environ.get("SYMCOURSE_REGISTRY_TESTS"),
                              reason="asks the package index: run `make test-registry`")


@registry
@pytest.mark.parametrize("minor", SUPPORTED)
def test_pip_resolves_the_project_and_its_pins(resolved, minor):
    if resolved[minor] is None:
        pytest.skip(f"this machine has no CPython {minor} (looked under {pyenv_root()} "
                    f"and for python{minor} on the PATH)")
    report_path, run = resolved[minor]
    assert run.returncode == 0, f"pip on Python {minor} refused the project:\n{run.stderr[-3000:]}"
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["environment"]["python_version"] == minor, report["environment"]
    chosen = {item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"]
              for item in report["install"]}
    assert chosen.get("symcourse"), f"Python {minor}: the project itself was not resolved"
    # a local label is the same release: this machine's torch is 2.13.0+cpu
    wrong = {name: (version, chosen.get(name)) for name, version in pins().items()
             if (chosen.get(name) or "").split("+")[0] != version}
    assert not wrong, f"Python {minor}: pinned vs resolved versions differ: {wrong}"
    # every pin is a wheel for this Python (no source build needed)
    sdists = [item["download_info"]["url"] for item in report["install"]
              if item["metadata"]["name"] != "symcourse"
              and not item["download_info"]["url"].endswith(".whl")]
    assert not sdists, f"Python {minor}: not wheels: {sdists}"


@registry
@pytest.mark.parametrize("minor", OUTSIDE)
def test_pip_refuses_a_python_outside_the_range(resolved, minor):
    if resolved[minor] is None:
        pytest.skip(f"this machine has no CPython {minor} to check the refusal with")
    _report, run = resolved[minor]
    assert run.returncode != 0 and "requires a different Python" in run.stderr, (
        f"pip on Python {minor} did not refuse the project:\n{run.stderr[-2000:]}")
