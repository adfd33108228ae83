"""Chapter 10's width study: loss barriers before and after alignment, for six widths.

For each width in ``symcourse.permutation.WIDTH_STUDY`` it trains six independent pairs of
two-hidden-layer MLPs on scikit-learn's digits (seeds 0-11, the chapter's settings) and
stores, per pair, the barrier as trained, after weight matching and after activation matching,
and the merged networks' test accuracies in ``symcourse/stored/permutation_widths.json``. The
chapter reads that file and re-runs width 32 live, asserting that it matches. Takes several
minutes on two cores: ``python benchmarks/permutation_widths.py``.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

import symcourse
from symcourse import permutation as pm
from symcourse.data import digits_split


def main():
    symcourse.setup(style=False)
    train, test = digits_split()
    settings = dict(pm.WIDTH_STUDY)
    widths = settings.pop("widths")
    records = []
    for width in widths:
        study = pm.barrier_study(train, test, width, **settings)
        records.append(pm.study_record(study))
        line = ", ".join(f"{m} {s['mean']:.4f} [{s['low']:.4f}, {s['high']:.4f}]"
                         for m, s in study.summary().items())
        print(f"width {width}: {line} (time: {study.seconds:.1f} s)", flush=True)
    out = Path(pm.__file__).parent / pm.STORED_WIDTHS
    out.write_text(json.dumps({"settings": pm.WIDTH_STUDY, "torch": torch.__version__.split("+")[0],
                               "records": records}, indent=1) + "\n")
    print(f"wrote {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out.name}")


if __name__ == "__main__":
    main()
