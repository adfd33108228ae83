"""Write the gradebook: ``gradebook.csv`` (one row per submission, one column per exercise,
1 for solved and 0 otherwise, total and maximum: the shape LMS grade imports take),
``details.csv`` (one row per submission and exercise: verdict and reason), and the same as a
readable ``report.md`` and ``report.html``."""
from __future__ import annotations

import csv
import html
from pathlib import Path

from .rules import SOLVED, VERDICTS

MARK = {"solved": "✓", "not solved": "✗", "not attempted": "–", "could not run": "!"}


def _column(exercise: dict) -> str:
    return f"Ex {exercise['number']} {exercise['id']}"


def write(out: Path, rows: list[dict], exercises: list[dict], notes: list[str]) -> dict[str, Path]:
    """``rows``: ``{"student", "file", "verdicts": {id: (verdict, reason)}}``; ``exercises``:
    ``{"id", "number", "title"}`` in book order. Returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    columns = [_column(e) for e in exercises]
    paths = {name: out / name for name in ("gradebook.csv", "details.csv", "report.md",
                                           "report.html")}
    with paths["gradebook.csv"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Student", "File", *columns, "Total", "Out of"])
        for row in rows:
            marks = [("" if e["id"] not in row["verdicts"] else
                      int(row["verdicts"][e["id"]][0] == SOLVED)) for e in exercises]
            writer.writerow([row["student"], row["file"], *marks,
                             sum(m for m in marks if m != ""), len(row["verdicts"])])
    with paths["details.csv"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Student", "File", "Exercise", "Self-check", "Verdict", "Reason"])
        for row in rows:
            for e in exercises:
                if e["id"] in row["verdicts"]:
                    writer.writerow([row["student"], row["file"], e["number"], e["id"],
                                     *row["verdicts"][e["id"]]])
    paths["report.md"].write_text(_markdown(rows, exercises, notes), encoding="utf-8")
    paths["report.html"].write_text(_html(rows, exercises, notes), encoding="utf-8")
    return paths


def run_note(run) -> str:
    """One line on how the submission ran: status, time, and every cell that raised."""
    if run is None:
        return "not run"
    what = {"ran": "ran to the end", "invalid": "not run", "timeout": "stopped",
            "died": "stopped", "failed": "stopped"}.get(run.status, run.status)
    note = f"{what} ({run.seconds:.1f} s)" + (f": {run.message}" if run.message else "")
    if run.errors:
        note += "; " + "; ".join(f"cell {c} raised {e}" for c, e in sorted(run.errors.items()))
    return note


def _summary(rows, exercises):
    head = ["Student", *[e["number"] for e in exercises], "Solved"]
    body = []
    for row in rows:
        verdicts = row["verdicts"]
        body.append([row["student"], *[MARK[verdicts[e["id"]][0]] if e["id"] in verdicts else ""
                                       for e in exercises],
                     f"{sum(v[0] == SOLVED for v in verdicts.values())} / {len(verdicts)}"])
    return head, body


def _markdown(rows, exercises, notes) -> str:
    cell = lambda text: str(text).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["# Gradebook", "", *notes, "",
             "Marks: " + ", ".join(f"{m} {v}" for v, m in MARK.items()) + ".", ""]
    head, body = _summary(rows, exercises)
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(c) for c in line) + " |" for line in body]
    lines += ["", "## Exercises", ""]
    lines += [f"* {e['number']} `{e['id']}`: {e['title']}" for e in exercises]
    for row in rows:
        lines += ["", f"## {cell(row['student'])} (`{cell(row['file'])}`)", "",
                  f"Run: {cell(run_note(row.get('run')))}", "",
                  "| Exercise | Verdict | Why |", "|---|---|---|"]
        lines += [f"| {e['number']} `{e['id']}` | {row['verdicts'][e['id']][0]} | "
                  f"{cell(row['verdicts'][e['id']][1])} |"
                  for e in exercises if e["id"] in row["verdicts"]]
    return "\n".join(lines) + "\n"


def _table(head, body) -> str:
    esc = html.escape
    return ("<table><thead><tr>" + "".join(f"<th>{esc(str(h))}</th>" for h in head)
            + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in line) + "</tr>"
                      for line in body) + "</tbody></table>")


def _html(rows, exercises, notes) -> str:
    esc = html.escape
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>Gradebook</title>",
             "<style>body{font-family:sans-serif;max-width:75em;margin:2em auto}"
             "td,th{border:1px solid #999;padding:.2em .5em}table{border-collapse:collapse}"
             "</style></head><body><h1>Gradebook</h1>",
             *[f"<p>{esc(n)}</p>" for n in notes],
             "<p>Marks: " + esc(", ".join(f"{m} {v}" for v, m in MARK.items())) + ".</p>",
             _table(*_summary(rows, exercises)), "<h2>Exercises</h2><ul>",
             *[f"<li>{esc(e['number'])} <code>{esc(e['id'])}</code>: {esc(e['title'])}</li>"
               for e in exercises], "</ul>"]
    for row in rows:
        parts.append(f"<h2>{esc(row['student'])} (<code>{esc(row['file'])}</code>)</h2>")
        parts.append(f"<p>Run: {esc(run_note(row.get('run')))}</p>")
        parts.append(_table(["Exercise", "Verdict", "Why"],
                            [[f"{e['number']} {e['id']}", *row["verdicts"][e["id"]]]
                             for e in exercises if e["id"] in row["verdicts"]]))
    return "".join(parts) + "</body></html>\n"


assert set(MARK) == set(VERDICTS)
