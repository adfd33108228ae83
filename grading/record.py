"""What runs inside the graded notebook's kernel: record every answer given to ``check``.

The recorder cell replaces ``symcourse.exercises.check`` before the submission's own cells
run (they import ``check`` from there). Each call shows one output of the private MIME type
:data:`MIME` holding ``{"exercise": id, "answer": <answer as data>}``; the sandbox reads those
outputs from the executed notebook in memory, so nothing is written to files the submission
could touch. Answers are turned into plain data (numbers, lists, strings) in the kernel; a
function answer is *probed*: called on fixed inputs (:data:`PROBES`), and its outputs are
recorded. The grader only ever sees data, never objects from the submission.
"""
from __future__ import annotations

MIME = "application/x-symcourse-answer+json"

#: Function-valued answers: exercise id -> source of ``probe(answer)`` returning data. The
#: same probe runs on the solution's function when the key is made, so only the outputs
#: are compared. Probe inputs are the self-check's own cases (not secret).
PROBES = {
    "broken-recursion": '''
def probe(answer):
    import torch
    generator = torch.Generator().manual_seed(5)
    out = []
    for beta in (0.0, 0.5, 0.9):
        q0 = torch.rand(3, generator=generator, dtype=torch.float64) - 0.5
        drive = torch.rand(40, 3, generator=generator, dtype=torch.float64) * 0.1
        out.append(torch.as_tensor(answer(q0, drive, 0.2, 0.03, beta), dtype=torch.float64))
    return out
''',
    "using-rescale-neuron": '''
def probe(answer):
    import torch
    from symcourse.teleport import deep_relu_mlp, flat_parameters
    model = deep_relu_mlp(in_dim=2, width=5, depth=3, classes=3, seed=3)
    with torch.no_grad():
        model[2].bias.copy_(torch.linspace(-0.5, 0.5, 5, dtype=torch.float64))
    answer(model, 2, 1, 2.5)
    return flat_parameters(model)
''',
}

_RECORDER = r'''
# Added by the grader (grading/record.py); not part of the submission.
def _grading_setup(MIME, PROBES_SOURCE):
    import math
    import IPython.display
    import symcourse.exercises as exercises
    probes = {}
    for name, source in PROBES_SOURCE.items():
        scope = {}
        exec(source, scope)
        probes[name] = scope["probe"]

    def as_data(value, depth=0):
        if depth > 4:
            raise TypeError("nested too deeply")
        if value is ... or value is None:
            return {"kind": "unanswered"}
        if isinstance(value, bool):
            return {"kind": "bool", "value": value}
        if isinstance(value, str):
            return {"kind": "str", "value": value[:1000]}
        if isinstance(value, int):
            return {"kind": "int", "value": value}
        if isinstance(value, float):
            return {"kind": "float", "value": value if math.isfinite(value) else repr(value)}
        if hasattr(value, "detach") and hasattr(value, "tolist"):  # a torch tensor
            value = value.detach().cpu()
            if value.numel() > 100000:
                raise TypeError("more than 100000 numbers")
            if value.dim() == 0:
                return as_data(value.item(), depth + 1)
            return {"kind": "array", "shape": list(value.shape),
                    "value": value.double().flatten().tolist()}
        if hasattr(value, "shape") and hasattr(value, "tolist"):  # a NumPy array or scalar
            import numpy
            array = numpy.asarray(value)
            if array.ndim == 0:
                return as_data(array.item(), depth + 1)
            if array.size > 100000:
                raise TypeError("more than 100000 numbers")
            return {"kind": "array", "shape": list(array.shape),
                    "value": array.astype(float).flatten().tolist()}
        if isinstance(value, (list, tuple)):
            if len(value) > 10000:
                raise TypeError("more than 10000 items")
            return {"kind": "list", "value": [as_data(v, depth + 1) for v in value]}
        raise TypeError(f"an answer of type {type(value).__name__} cannot be graded")

    def check(exercise_id, answer):
        try:
            if callable(answer) and exercise_id in probes:
                record = {"kind": "probe", "value": as_data(probes[exercise_id](answer))}
            else:
                record = as_data(answer)
        except Exception as error:
            record = {"kind": "error", "value": f"{type(error).__name__}: {error}"[:500]}
        IPython.display.display(
            {MIME: {"exercise": str(exercise_id), "answer": record}}, raw=True)
        return exercises.Feedback(str(exercise_id), "unsolved", "answer recorded for grading")

    exercises.check = check


'''


def recorder_source() -> str:
    """Source of the cell the sandbox puts before the submission's first cell."""
    return (_RECORDER + f"_grading_setup({MIME!r}, {PROBES!r})\ndel _grading_setup\n")


def answers_from_outputs(cells: list[dict]) -> dict[str, dict]:
    """The answers recorded in executed cells, last call per exercise wins: ``{id: record}``,
    each record with the index of the cell that gave it."""
    answers = {}
    for index, cell in enumerate(cells):
        for output in cell.get("outputs", []) or []:
            data = (output.get("data") or {}).get(MIME)
            if isinstance(data, dict) and isinstance(data.get("exercise"), str):
                answers[data["exercise"]] = {**dict(data.get("answer") or {}), "cell": index}
    return answers
