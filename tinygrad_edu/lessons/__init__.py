"""What only the lessons use, on the top floor beside `cli.py` (the library never imports it).

- `common.py`        what every lesson does first: `Lesson` (--quick, figures, verdicts), `lesson_gpt`
- `book.py`          the course as a static web site (`tinygrad-edu book`)
- `bench.py`         the engine room's measurements (lesson 10, `tinygrad-edu bench`)
- `timing.py`        the one timing harness (also used by benchmarks/_harness.py)
- `superposition.py` lesson 8's fact memory and toy model of superposition
"""
