"""Build the teaching notebooks (``notebooks/*.ipynb``) from their sources in ``notebooks/src``.

Each source is a plain Python file in the "percent" cell format that editors such as VS Code
and Jupytext understand::

    # %% [markdown]
    # # A title
    # Some *markdown*; every line starts with "# ".

    # %%
    import tinynet as tn          # a code cell

Keeping the sources as ``.py`` files makes them easy to review and diff; the ``.ipynb``
files are what learners open. They are written WITHOUT outputs (run them yourself), and
``tests/test_notebooks.py`` checks that they match their sources, so after editing a source
run::

    python notebooks/build_notebooks.py          # rewrite every notebook
    python notebooks/build_notebooks.py --check  # exit 1 if any notebook is stale
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = pathlib.Path(__file__).resolve().parent
SRC = HERE / "src"

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def parse_cells(text: str):
    """Split a percent-format source into ``[(kind, source), ...]`` with kind "markdown" or "code"."""
    cells, kind, lines = [], None, []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(_unc(line) for line in body.split("\n"))
        if body.strip():
            cells.append((kind, body))

    for line in text.split("\n"):
        if line.startswith("# %%"):
            flush()
            kind = "markdown" if "[markdown]" in line else "code"
            lines = []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def _unc(line: str) -> str:
    """Strip the comment marker of one markdown line ("# text" -> "text", "#" -> "")."""
    if line.startswith("# "):
        return line[2:]
    if line.strip() == "#":
        return ""
    raise ValueError(f"markdown line does not start with '# ': {line!r}")


def build(source: pathlib.Path):
    """The notebook (an ``nbformat.NotebookNode``) for one source file, without outputs."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, body) in enumerate(parse_cells(source.read_text(encoding="utf-8"))):
        cell = new_markdown_cell(body) if kind == "markdown" else new_code_cell(body)
        cell["id"] = f"{source.stem[:2]}-{i:03d}"  # stable ids: rebuilding gives identical files
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render(nb) -> str:
    return nbformat.writes(nb) + "\n"


def sources():
    return sorted(SRC.glob("[0-9][0-9]_*.py"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="only report notebooks that differ from their sources")
    args = ap.parse_args(argv)
    stale = []
    for src in sources():
        target = HERE / (src.stem + ".ipynb")
        text = render(build(src))
        if args.check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(target.name)
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(HERE.parent)} ({len(build(src).cells)} cells)")
    if stale:
        print("stale notebooks (run python notebooks/build_notebooks.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
