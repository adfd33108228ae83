"""Grading of submitted student notebooks (instructors only).

Never shipped to students: this folder is not part of the ``symcourse`` package
(``pyproject.toml`` installs ``symcourse`` only) and ``tools/student_edition.py`` copies
``book/`` alone. It holds the reference answers (``key.json``, harvested from the full
edition's solution cells by ``python tools/grade.py --make-key``) and the rules that compare
a submitted answer with them.

* :mod:`grading.record` — the cell injected at the top of every notebook run for grading; it
  records each ``check(exercise, answer)`` call's answer as data;
* :mod:`grading.sandbox` — runs one notebook in its own process, with time and memory limits
  and, where Linux allows it, the instructor's folders hidden;
* :mod:`grading.rules` — compares recorded answers with the key: solved, not solved, not
  attempted, could not run, each with the reason;
* :mod:`grading.report` — gradebook CSV and Markdown/HTML report.
"""
