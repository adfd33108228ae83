"""symcourse — the tested helper package behind the course *Symmetry in Neural-Network Training Dynamics*.

Modules are named for ideas and layered bottom-up: ``data``, ``models`` and ``stats`` at the
bottom; the mathematics and the engines above them: ``sweeps`` (batched training) and ``stall``
(chapter 1), ``committee`` and ``reducible`` (plateaus, saddles and traps), ``symmetry`` (2),
``conservation`` (3), ``dynamics`` (4), ``recording`` and
``theory`` (5); remedies and symmetry moves above those, ``remedies`` (6) and ``teleport`` (7);
``plots``, ``widgets`` and ``exercises`` (what a reader sees) on top. Each public function's
docstring names the chapter that introduces it.
"""
from .session import setup

__version__ = "0.1.0"
__all__ = ["setup", "__version__"]
