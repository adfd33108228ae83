"""symcourse — the tested helper package behind the course *Symmetry in Neural-Network Training Dynamics*.

Modules are named for ideas and layered bottom-up: ``data``, ``models``, ``stats`` and
``parallel`` (independent runs on the CPU's cores) at the bottom; the mathematics and the engines above them: ``sweeps`` (batched training) and ``stall``
(chapter 1), ``committee`` and ``reducible`` (2), ``symmetry`` (3), ``conservation`` (4),
``dynamics`` (5), ``recording`` and ``theory`` (6), ``equivariance`` (9), ``permutation`` and
``attractor`` (10); remedies and symmetry moves above those, ``remedies``, ``hinges`` and
``dormant`` (7), ``teleport``, ``gl_teleport`` and ``depth`` (8), ``detect`` (9);
``plots``, ``widgets`` and ``exercises`` (what a reader sees) on top. Each public function's
docstring names the chapter that introduces it.
"""
from .session import setup

__version__ = "0.1.0"
__all__ = ["setup", "__version__"]
