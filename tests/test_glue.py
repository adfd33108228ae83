"""symcourse.glue writes exactly the outputs myst-nb's glue writes (the book build reads them)."""
from __future__ import annotations

import pytest
import torch

from symcourse import glue as glue_module


@pytest.mark.parametrize("value", [3, 0.0123, "text", [1, 2], torch.tensor(1.5), {"a": 1}])
@pytest.mark.parametrize("display", [True, False])
def test_the_output_is_myst_nbs(monkeypatch, value, display):
    from myst_nb.ext import glue as reference

    theirs, ours = [], []
    monkeypatch.setattr(reference, "ipy_display", lambda *a, **k: theirs.append((a, k)))
    monkeypatch.setattr(glue_module, "show", lambda *a, **k: ours.append((a, k)))
    reference.glue("key", value, display)
    glue_module.glue("key", value, display)
    assert ours == theirs and len(ours) == 1
    assert glue_module.RECORD_PREFIX == reference.GLUE_PREFIX


def test_importing_it_leaves_nbformat_out():
    import subprocess
    import sys

    code = "import sys, symcourse.glue; print('nbformat' in sys.modules, 'jsonschema' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"], out.stdout


@pytest.mark.parametrize("args, error, match", [
    (("", 1), ValueError, "name"), ((" ", 1), ValueError, "name"), ((3, 1), ValueError, "name"),
    (("key", 1, "no"), TypeError, "display"),
])
def test_bad_input_is_refused_before_anything_is_shown(monkeypatch, args, error, match):
    shown = []
    monkeypatch.setattr(glue_module, "show", lambda *a, **k: shown.append(a))
    with pytest.raises(error, match=match):
        glue_module.glue(*args)
    assert shown == []
