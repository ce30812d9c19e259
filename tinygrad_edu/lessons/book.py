"""The course as a static web site: `python -m tinygrad_edu book --out DIR [--quick]`.

Each lesson in tutorials/ is a percent-format script. The book
1. reads it as a notebook (jupytext), runs it in a fresh Jupyter kernel (nbclient) with
   --quick when asked, and writes the executed notebook (`notebooks/NN_name.ipynb`);
2. renders that notebook as HTML (nbconvert): prose, code, printed output and figures in
   the order the lesson wrote them; the set-up cell (imports, `Lesson(...)`) is folded away,
   and the page opens with the beliefs the lesson checked, their outcomes and numbers (from
   the run's `<lesson>_verdicts.json`), each linked to the cell that decided it;
3. renders the source a lesson teaches from (the README's reading map, and every file a
   lesson names) as highlighted pages with line anchors (Pygments), and links each
   `path.py` and each `Name` defined there that the lesson's prose mentions to its line;
4. writes "Checked beliefs" (`beliefs.html`): every lesson's beliefs on one page;
5. writes an index in lecture order.

Needs the `[book]` extra: pip install -e ".[book]".
"""

from __future__ import annotations

import ast
import glob
import html
import os
import re
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]  # a source checkout: tutorials/ beside the package

# `tinygrad_edu/nn/transformer.py`, `models/gpt.py` (short for tinygrad_edu/models/gpt.py),
# `csrc/attention_impl.h`, `tinygrad_edu/lessons/common.py`
PATH_RE = re.compile(r"`((?:[\w.]+/)+[\w.]+\.(?:py|pyx|c|h))`")
# `Name` in `path.py`   /   `path.py` (Name, Other.method)
NAME_IN_PATH_RE = re.compile(r"`([A-Za-z_][\w.]*)(?:\(\))?` (?:in|of) `((?:[\w.]+/)+[\w.]+\.py)`")
PATH_NAMES_RE = re.compile(
    r"`((?:[\w.]+/)+[\w.]+\.py)` \(([A-Za-z_][\w.]*(?:, [A-Za-z_][\w.]*)*)\)"
)


def resolve_path(path: str, root: Path = ROOT) -> Optional[Path]:
    """A path as a lesson writes it -> the file, or None. `models/gpt.py` is short for
    tinygrad_edu/models/gpt.py."""
    for candidate in (root / path, root / "tinygrad_edu" / path):
        if candidate.is_file():
            return candidate
    return None


def definitions(path: Path) -> dict[str, int]:
    """Every name a Python file defines, with its line: top-level functions, classes and
    assignments, and `Class.method` for methods."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found[node.name] = node.lineno
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        found[f"{node.name}.{item.name}"] = item.lineno
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    found[t.id] = node.lineno
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:  # names a package re-exports (nn/__init__.py)
                found.setdefault((alias.asname or alias.name).split(".")[0], node.lineno)
    return found


def mentions(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The source paths a lesson names, and the (name, path) pairs it says live there."""
    paths = sorted(set(PATH_RE.findall(text)))
    flat = re.sub(r"\n#\s*", " ", text)  # prose wraps over comment lines
    pairs = set(NAME_IN_PATH_RE.findall(flat))
    for path, names in PATH_NAMES_RE.findall(flat):
        pairs.update((n.strip(), path) for n in names.split(",") if n.strip())
    return paths, sorted(pairs)


def reading_map(root: Path = ROOT) -> list[tuple[str, str]]:
    """(file, what it teaches) for every file of the README's reading map, in its order."""
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Reading the source", 1)[1].split("\n## ", 1)[0]
    files: list[tuple[str, str]] = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        for pattern in re.findall(r"`([^`]+)`", cells[0]):
            pattern = pattern + "*.py" if pattern.endswith("/") else pattern
            for f in sorted(glob.glob(str(root / pattern))):
                rel = Path(f).relative_to(root).as_posix()
                if rel not in dict(files):
                    files.append((rel, cells[1]))
    return files


def lessons(root: Path = ROOT) -> list[Path]:
    return sorted((root / "tutorials").glob("[0-9][0-9]_*.py"))


def _page_name(rel: str) -> str:
    return "src/" + rel.replace("/", "-") + ".html"


CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #222; }
nav.book { font-size: 0.9rem; margin-bottom: 1rem; padding-bottom: 0.5rem; border-bottom: 1px solid #ddd; }
nav.book a { margin-right: 1rem; }
td.linenos, td.linenos a { color: #999; text-decoration: none; user-select: none; }
.highlight pre, .linenodiv pre { font-size: 0.85rem; line-height: 1.35; }
.highlight .hll, :target { background: #fff3b0; }
table.index td { padding: 0.2rem 0.8rem 0.2rem 0; vertical-align: top; }
"""


# links in the rendered prose: visible as links (the notebook theme colours code spans)
LESSON_CSS = (
    ".jp-RenderedMarkdown a code, nav.book a { color: #0645ad; text-decoration: underline; }"
)


def _shell(title: str, body: str, depth: int, extra_css: str = "") -> str:
    up = "../" * depth
    nav = f'<nav class="book"><a href="{up}index.html">tinygrad_edu: the book</a></nav>'
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}{extra_css}</style></head>"
        f"<body>{nav}\n{body}\n</body></html>\n"
    )


def render_source(rel: str, root: Path, out: Path) -> None:
    """One source file as a highlighted page; line N has the anchor #L-N."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_for_filename

    code = (root / rel).read_text(encoding="utf-8")
    lexer = get_lexer_for_filename(rel, code)
    fmt = HtmlFormatter(linenos="table", lineanchors="L", anchorlinenos=True)
    body = f"<h1><code>{html.escape(rel)}</code></h1>\n" + highlight(code, lexer, fmt)
    page = out / _page_name(rel)
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(_shell(rel, body, depth=1, extra_css=fmt.get_style_defs(".highlight")))


def _link_prose(page: str, text: str, root: Path, known_pages: set[str]) -> str:
    """Link `path.py` and every `Name` the lesson's files define to their pages and lines."""
    paths, _ = mentions(text)
    targets: dict[str, str] = {}  # the text inside <code>...</code> -> href
    for p in paths:
        f = resolve_path(p, root)
        if f is None:
            continue
        rel = f.relative_to(root).as_posix()
        if rel not in known_pages:
            continue
        targets[p] = _page_name(rel)
        if f.suffix == ".py":
            for name, line in definitions(f).items():
                targets.setdefault(name, f"{_page_name(rel)}#L-{line}")

    def link(m: re.Match) -> str:
        inner = html.unescape(m.group(1))
        key = inner[:-2] if inner.endswith("()") else inner
        href = targets.get(key)
        return f'<a href="{href}">{m.group(0)}</a>' if href else m.group(0)

    # only the rendered markdown (prose) cells: code cells are Pygments spans, left alone
    def in_markdown(cell: re.Match) -> str:
        return re.sub(r"<code>([^<]+)</code>", link, cell.group(0))

    return re.sub(
        r'<div class="[^"]*jp-MarkdownCell.*?(?=<div class="[^"]*jp-Cell |</main>|\Z)',
        in_markdown,
        page,
        flags=re.S,
    )


def lesson_notebook(text: str):
    """A lesson's percent-format script -> an (unexecuted) notebook for a Python 3 kernel.

    The notebook needs only the installed package: a lesson imports its preamble from
    tinygrad_edu.lessons.common, and tutorials/_common.py, when it is beside the notebook
    (a source checkout), only puts that checkout's package first."""
    import jupytext

    nb = jupytext.reads(text, fmt="py:percent")
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


# --- beliefs: each lesson page opens with them, and one page gathers them all ---------------

OUTCOME_CSS = """
.beliefs table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
.beliefs td, .beliefs th { padding: 0.3rem 0.6rem; border-bottom: 1px solid #ddd; vertical-align: top;
                           text-align: left; }
.outcome { font-weight: 600; white-space: nowrap; }
.outcome.confirmed { color: #1a7f37; } .outcome.partly { color: #9a6700; }
.outcome.corrected { color: #cf222e; }
details.setup > summary { cursor: pointer; color: #555; font-family: system-ui, sans-serif;
                          padding: 0.3rem 1rem; }
"""

# where a cell of nbconvert's lab template starts
_CELL_RE = re.compile(r'<div class="jp-Cell jp-(?:Code|Markdown|Raw)Cell[^"]*"')


def _cell_spans(page: str) -> list[tuple[int, int, str]]:
    """(start, end, "Code" | "Markdown" | "Raw") of every cell of a rendered notebook page."""
    starts = [(m.start(), m.group(0)) for m in _CELL_RE.finditer(page)]
    end_of_last = page.find("</main>")
    if end_of_last < 0:
        end_of_last = len(page)
    spans = []
    for k, (start, tag) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else end_of_last
        kind = re.search(r"jp-(Code|Markdown|Raw)Cell", tag).group(1)
        spans.append((start, end, kind))
    return spans


def fold_setup_cell(page: str) -> str:
    """Fold the lesson's first code cell (imports, `Lesson(...)`) into a closed <details>,
    so that the first thing a reader sees is the lesson."""
    code = [(a, b) for a, b, kind in _cell_spans(page) if kind == "Code"]
    if not code:
        return page
    a, b = code[0]
    trailing = re.search(r'(?:<a id="belief-[^"]*"></a>)+$', page[a:b])  # the next cell's
    if trailing:
        b -= len(trailing.group(0))
    summary = "The lesson's set-up: imports and <code>Lesson(...)</code> (click to show)"
    folded = f'<details class="setup"><summary>{summary}</summary>\n{page[a:b]}</details>\n'
    return page[:a] + folded + page[b:]


def read_beliefs(record_file: Path) -> dict[str, dict]:
    """The beliefs map of a lesson's verdict record ({} when there is none)."""
    import json

    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    beliefs = record.get("beliefs", {})
    return beliefs if isinstance(beliefs, dict) else {}


def _belief_rows(beliefs: dict[str, dict], href: str) -> str:
    rows = []
    for key, b in beliefs.items():
        outcome = str(b.get("outcome", ""))
        notes = ", ".join(str(n) for n in b.get("notes", []))
        rows.append(
            f'<tr><td class="outcome {html.escape(outcome)}">{html.escape(outcome)}</td>'
            f'<td><a href="{href}#belief-{html.escape(key)}">{html.escape(str(b.get("claim", key)))}</a>'
            + (f" <small>(note {html.escape(notes)})</small>" if notes else "")
            + f"</td><td>{html.escape(str(b.get('evidence', '')))}</td></tr>"
        )
    return "\n".join(rows)


def beliefs_box(beliefs: dict[str, dict]) -> str:
    """The box a lesson page opens with: each belief, its outcome and the run's numbers,
    each linked to the cell whose experiment decided it."""
    if not beliefs:
        return ""
    return (
        '<section class="beliefs jp-Cell" style="padding: 0 1rem;"><h2>Beliefs this lesson checks</h2>'
        "<p>What a learner may believe coming from the lecture, and what this run of the "
        "lesson found (the outcomes and numbers are this page's run).</p>"
        "<table><tr><th>outcome</th><th>belief</th><th>evidence</th></tr>\n"
        + _belief_rows(beliefs, "")
        + "</table></section>\n"
    )


def add_beliefs(page: str, beliefs: dict[str, dict]) -> str:
    """Open the page with its beliefs (after the title cell), and give the cell that printed
    each belief the anchor #belief-<key>."""
    if not beliefs:
        return page
    for key, b in beliefs.items():  # the anchors first: the box below adds text of its own
        claim = str(b.get("claim", ""))
        at = -1
        for escaped in (html.escape(claim, quote=False), html.escape(claim)):
            at = page.find("belief: " + escaped)
            if at >= 0:
                break
        if at < 0:
            continue
        starts = [a for a, _, _ in _cell_spans(page) if a < at]
        if starts:
            page = (
                page[: starts[-1]] + f'<a id="belief-{html.escape(key)}"></a>' + page[starts[-1] :]
            )
    spans = _cell_spans(page)
    if not spans:
        return page
    first_end = spans[0][1] if spans[0][2] == "Markdown" else spans[0][0]
    page = page[:first_end] + beliefs_box(beliefs) + page[first_end:]
    return page.replace("</head>", f"<style>{OUTCOME_CSS}</style></head>", 1)


def beliefs_page(rows: list[tuple[str, str, dict[str, dict]]]) -> str:
    """The "Checked beliefs" page: every belief of every lesson, linked to its experiment.
    rows: (lesson stem, lesson title, beliefs) in lecture order."""
    every = [b for _, _, beliefs in rows for b in beliefs.values()]
    counts = {
        o: sum(b.get("outcome") == o for b in every) for o in ("confirmed", "partly", "corrected")
    }
    lines = [
        "<h1>Checked beliefs</h1>",
        "<p>A learner comes from each lecture with beliefs: some right, some half right, some "
        "wrong. Each lesson checks the beliefs of its lecture by an experiment on its own models, "
        "and the run decides the outcome. This page gathers them "
        f"({len(every)} beliefs: {counts['confirmed']} confirmed, {counts['partly']} partly, "
        f"{counts['corrected']} corrected); each links to the experiment that decided it.</p>",
    ]
    for stem, title, beliefs in rows:
        if not beliefs:
            continue
        lines.append(
            f'<section class="beliefs"><h2><a href="{stem}.html">{html.escape(title)}</a></h2>'
        )
        lines.append("<table><tr><th>outcome</th><th>belief</th><th>evidence</th></tr>")
        lines.append(_belief_rows(beliefs, f"{stem}.html"))
        lines.append("</table></section>")
    return _shell("Checked beliefs", "\n".join(lines), depth=0, extra_css=OUTCOME_CSS)


def build(
    out: Path, quick: bool = False, root: Path = ROOT, only: Optional[list[str]] = None
) -> Path:
    """Build the book into out; return the index page."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    if not (root / "tutorials").is_dir():
        raise FileNotFoundError(
            f"no tutorials/ in {root}: the book is built from a source checkout"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "notebooks").mkdir(exist_ok=True)
    run_dir = (out / "_run").resolve()  # what the lessons write (checkpoints, PNGs)
    run_dir.mkdir(exist_ok=True)
    env_before = dict(os.environ)
    os.environ["TINYGRAD_EDU_OUT"] = str(run_dir)
    os.environ["TINYGRAD_EDU_QUICK"] = "1" if quick else ""
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend shows the figures

    sources = reading_map(root)
    lesson_files = [p for p in lessons(root) if not only or p.stem[:2] in only]
    for p in lesson_files:  # every file a lesson names gets a page, too
        for m in mentions(p.read_text(encoding="utf-8"))[0]:
            f = resolve_path(m, root)
            if f is not None and f.relative_to(root).as_posix() not in dict(sources):
                sources.append((f.relative_to(root).as_posix(), "named by a lesson"))
    for p in lesson_files:
        sources.append((p.relative_to(root).as_posix(), "the lesson itself, as a script"))
    preamble = [
        ("tinygrad_edu/lessons/common.py", "what every lesson does first"),
        ("tutorials/_common.py", "in a source checkout: that checkout's package first"),
    ]
    sources = [s for s in sources if s[0] not in dict(preamble)] + preamble
    for rel, _ in sources:
        render_source(rel, root, out)
    known = {rel for rel, _ in sources}

    exporter = HTMLExporter(template_name="lab")
    rows = []
    try:
        for path in lesson_files:
            t0 = time.perf_counter()
            text = path.read_text(encoding="utf-8")
            nb = lesson_notebook(text)
            client = NotebookClient(
                nb, timeout=900, kernel_name="python3",
                resources={"metadata": {"path": str(path.parent)}},
            )  # fmt: skip
            try:
                client.execute()
            except Exception as exc:  # name the lesson and its error, not a blank line
                raise LessonFailed(path.name, exc) from exc
            nbformat.write(nb, out / "notebooks" / f"{path.stem}.ipynb")
            body, _ = exporter.from_notebook_node(nb)
            # the page must work offline: no scripts from a CDN (the lessons need no MathJax)
            body = re.sub(r'<script[^>]*src="https?://[^"]*"[^>]*>\s*</script>', "", body)
            body = re.sub(
                r"<script[^>]*>(?:(?!</script>).)*(?:cdnjs|MathJax)(?:(?!</script>).)*</script>",
                "",
                body,
                flags=re.S,
            )
            body = _link_prose(body, text, root, known)
            body = body.replace("</head>", f"<style>{LESSON_CSS}</style></head>", 1)
            beliefs = read_beliefs(run_dir / f"{path.stem}_verdicts.json")
            body = fold_setup_cell(add_beliefs(body, beliefs))
            title = next(
                (
                    c.source.splitlines()[0].lstrip("# ")
                    for c in nb.cells
                    if c.cell_type == "markdown"
                ),
                path.stem,
            )
            nav = (
                '<nav class="book" style="font-family: system-ui, sans-serif; padding: 0.5rem 1rem;">'
                f'<a href="index.html">tinygrad_edu: the book</a> &middot; '
                f'<a href="notebooks/{path.stem}.ipynb">{path.stem}.ipynb</a> &middot; '
                f'<a href="{_page_name(path.relative_to(root).as_posix())}">the script</a></nav>'
            )
            body = re.sub(r"(<body[^>]*>)", r"\1" + nav.replace("\\", "\\\\"), body, count=1)
            (out / f"{path.stem}.html").write_text(body, encoding="utf-8")
            rows.append((path.stem, title, beliefs))
            print(f"  {path.name}: {time.perf_counter() - t0:.1f} s", flush=True)
    finally:
        os.environ.clear()
        os.environ.update(env_before)

    lines = ["<h1>tinygrad_edu: a deep-learning textbook that runs</h1>"]
    lines.append(
        "<p>Each lesson below was run to make this page"
        + (" (in its <code>--quick</code> form)" if quick else "")
        + ": the printed numbers and the figures are that run's. Each is also a Jupyter notebook.</p>"
    )
    (out / "beliefs.html").write_text(beliefs_page(rows), encoding="utf-8")
    lines.append(
        '<p><a href="beliefs.html">Checked beliefs</a>: what a learner may believe after each '
        "lecture, and what the lessons' runs found.</p>"
    )
    lines.append('<h2>The lessons, in lecture order</h2>\n<table class="index">')
    for stem, title, _ in rows:
        lines.append(
            f'<tr><td><a href="{stem}.html">{html.escape(title)}</a></td>'
            f'<td><a href="notebooks/{stem}.ipynb">notebook</a></td>'
            f'<td><a href="{_page_name("tutorials/" + stem + ".py")}">script</a></td></tr>'
        )
    lines.append('</table>\n<h2>The source, in reading order</h2>\n<table class="index">')
    previous = None
    for rel, what in sources:
        what, previous = ("" if what == previous else what), what  # a README row: said once
        lines.append(
            f'<tr><td><a href="{_page_name(rel)}"><code>{html.escape(rel)}</code></a></td><td>{html.escape(what.replace("`", ""))}</td></tr>'
        )
    lines.append("</table>")
    index = out / "index.html"
    index.write_text(
        _shell("tinygrad_edu: the book", "\n".join(lines), depth=0).replace(
            '<nav class="book"><a href="index.html">tinygrad_edu: the book</a></nav>', ""
        )
    )
    return index


class LessonFailed(RuntimeError):
    """A lesson raised while the book ran it: 'lesson NN_name.py failed: Error: message'."""

    def __init__(self, lesson: str, exc: BaseException):
        ename = getattr(exc, "ename", None) or type(exc).__name__  # nbclient's cell error
        evalue = getattr(exc, "evalue", None)
        if evalue is None:
            evalue = next((ln for ln in str(exc).splitlines() if ln.strip()), "")
        super().__init__(f"lesson {lesson} failed: {ename}: {evalue}")


def main(out: str, quick: bool = False, only: Optional[list[str]] = None) -> int:
    from .course import book_root  # a checkout, or the course a wheel carries

    try:
        with book_root() as root:
            index = build(Path(out), quick=quick, root=root, only=only)
    except ImportError as exc:
        print(f"the book needs the [book] extra: pip install -e '.[book]' ({exc})")
        return 1
    except (LessonFailed, FileNotFoundError) as exc:
        print(f"the book: {exc}")
        return 1
    print(f"the book: {index.resolve().as_uri()}")
    return 0
