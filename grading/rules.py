"""Grade recorded answers against the key: one verdict and one reason per exercise.

Verdicts: ``solved``, ``not solved``, ``not attempted``, ``could not run``. An answer is
compared with the reference answer in ``key.json`` (same type; numbers within a relative
tolerance, whole numbers exactly; arrays of the same shape; text ignoring case and spaces;
function answers through the outputs of the same probe). Exercises whose correct answers form a
range or a set (a fitted slope, a seed with a property) are graded by their self-check instead,
run here in the grader's own process on the recorded data, never inside a submission.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

KEY_PATH = Path(__file__).with_name("key.json")
SOLVED, NOT_SOLVED, NOT_ATTEMPTED, COULD_NOT_RUN = (
    "solved", "not solved", "not attempted", "could not run")
VERDICTS = (SOLVED, NOT_SOLVED, NOT_ATTEMPTED, COULD_NOT_RUN)

#: Relative tolerance for numbers compared with the key, unless listed in TOLERANCE.
DEFAULT_RTOL = 1e-3
TOLERANCE = {"broken-recursion": 1e-8, "using-rescale-neuron": 1e-8}
#: Exercises graded by their self-check (many answers are right), on the recorded data.
BY_SELF_CHECK = {
    "stall-bias-seed", "stall-dead-gradient", "symmetry-eps-exponent", "dynamics-modified-order",
    "broken-drift-slope", "remedies-own-revival", "remedies-larger-temperature",
    "using-min-norm", "comego-kurtosis", "broken-regime",
    "dynamics-noise-design", "comego-dead"}
#: Answers whose order does not matter (lists of pairs).
UNORDERED = {"comego-kinks"}


def load_key(path: Path = KEY_PATH) -> dict[str, dict]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def numbers(record: dict):
    """``(shape, flat values)`` when a record holds numbers only, else None."""
    kind = record.get("kind")
    if kind in ("int", "float") and isinstance(record.get("value"), (int, float)):
        return (), [float(record["value"])]
    if kind == "array":
        return tuple(record["shape"]), [float(v) for v in record["value"]]
    if kind == "list":
        parts = [numbers(item) for item in record["value"]]
        if parts and all(p is not None and p[0] == parts[0][0] for p in parts):
            return (len(parts), *parts[0][0]), [v for p in parts for v in p[1]]
        if not parts:
            return (0,), []
    return None


def _close(got: list[float], want: list[float], rtol: float) -> bool:
    return all(math.isclose(g, w, rel_tol=rtol, abs_tol=rtol * 1e-6) for g, w in zip(got, want))


def _canonical(record: dict, unordered: bool):
    value = numbers(record)
    if value is not None:
        return value
    if record.get("kind") == "list":
        items = [_canonical(item, False) for item in record["value"]]
        if unordered:
            items = sorted((tuple(sorted(i[1])) if isinstance(i, tuple) else i for i in items),
                           key=repr)
        return ("list", items)
    if record.get("kind") == "str":
        return " ".join(str(record["value"]).lower().split())
    return record.get("value")


def _sorted_record(record: dict) -> dict:
    """A list of lists with each inner list and the outer list sorted (order-free answers)."""
    if record.get("kind") != "list":
        return record
    items = [_sorted_record(item) for item in record["value"]]
    if all(item.get("kind") == "list" for item in items):
        items = [{**item, "value": sorted(item["value"], key=lambda v: repr(v.get("value")))}
                 for item in items]
    return {**record, "value": sorted(items, key=lambda item: json.dumps(item, sort_keys=True))}


def compare(exercise: str, answer: dict, reference: dict) -> tuple[bool, str]:
    """Whether ``answer`` matches ``reference`` (both recorded answers), and why not."""
    rtol = TOLERANCE.get(exercise, DEFAULT_RTOL)
    if reference.get("kind") == "probe":
        if answer.get("kind") != "probe":
            return False, f"expected a function, got {answer.get('kind')} {answer.get('value')!r}"[:200]
        answer, reference = answer["value"], reference["value"]
    if exercise in UNORDERED:
        answer, reference = _sorted_record(answer), _sorted_record(reference)
    got, want = numbers(answer), numbers(reference)
    if want is not None:
        if got is None:
            return False, f"expected numbers, got {answer.get('kind')} {answer.get('value')!r}"[:200]
        if got[0] != want[0] and not (len(got[1]) == len(want[1]) == 1):
            return False, f"shape {got[0]} instead of {want[0]}"
        whole = reference.get("kind") == "int"
        ok = got[1] == want[1] if whole else _close(got[1], want[1], rtol)
        shown = got[1][0] if len(got[1]) == 1 else f"{len(got[1])} numbers"
        return ok, ("" if ok else f"{shown} differs from the reference "
                    f"{'exactly' if whole else f'beyond a relative {rtol:g}'}")
    unordered = exercise in UNORDERED
    ok = _canonical(answer, unordered) == _canonical(reference, unordered)
    return ok, "" if ok else f"{str(answer.get('value'))[:80]!r} differs from the reference"


def as_python(record: dict):
    """A recorded answer as the plain value a self-check accepts (arrays become tensors)."""
    kind = record.get("kind")
    if kind == "array":
        import torch
        return torch.tensor(record["value"], dtype=torch.float64).reshape(record["shape"])
    if kind == "list":
        return [as_python(item) for item in record["value"]]
    return record.get("value")


def by_self_check(exercise: str, answer: dict) -> tuple[bool, str]:
    from symcourse.exercises import check
    feedback = check(exercise, as_python(answer))
    return feedback.ok, "" if feedback.ok else feedback.message


def verdict(exercise: str, run, key: dict[str, dict]) -> tuple[str, str]:
    """The verdict and its reason for ``exercise`` in the sandbox run ``run``."""
    if run.status == "invalid":
        return COULD_NOT_RUN, run.message
    answer = run.answers.get(exercise)
    cells = run.check_cells.get(exercise, [])
    if answer is not None:
        where = f"cell {answer.get('cell')}"
        if answer.get("kind") == "unanswered":
            return NOT_ATTEMPTED, f"the answer in {where} is still `...`"
        if answer.get("kind") == "error":
            return NOT_SOLVED, f"the answer in {where} cannot be graded: {answer['value']}"
        if exercise in BY_SELF_CHECK:
            ok, why = by_self_check(exercise, answer)
        elif exercise in key:
            ok, why = compare(exercise, answer, key[exercise])
        else:
            return COULD_NOT_RUN, f"no reference answer for {exercise} (run make grading-key)"
        return (SOLVED, f"{where}") if ok else (NOT_SOLVED, f"{where}: {why}")
    if not cells:
        return NOT_ATTEMPTED, f"no cell calls check(\"{exercise}\", ...)"
    raised = [c for c in cells if c in run.errors]
    if raised:
        return COULD_NOT_RUN, f"cell {raised[-1]} raised {run.errors[raised[-1]]}"
    if run.stopped_at is not None and run.stopped_at <= max(cells):
        return COULD_NOT_RUN, run.message
    if run.status != "ran":
        return COULD_NOT_RUN, run.message
    return COULD_NOT_RUN, f"cell {cells[-1]} ran but its check was never called"
