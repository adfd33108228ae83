"""symcourse — the tested helper package behind the course *Symmetry in Neural-Network Training Dynamics*.

Modules are named for ideas and layered bottom-up: ``data``, ``models`` and ``stats`` at the
bottom; ``sweeps`` (the batched training engine) and ``stall`` (diagnostics) above them;
``remedies`` (chapter 6's fixes for the stall) above those; ``plots``, ``widgets`` and
``exercises`` (what a reader sees) on top. Each public function's docstring names
the chapter that introduces it.
"""
from .session import setup

__version__ = "0.1.0"
__all__ = ["setup", "__version__"]
