"""Sphinx configuration of the mmscratch book (built by ``python scripts/build_site.py``).

Why this stack: Sphinx + MyST-NB + the book theme is Jupyter Book 1's stack without the
wrapper: MyST reads our Markdown chapters as they are (``$$`` math included), MyST-NB
renders the executed notebooks with their stored outputs (no kernel needed to build),
autodoc turns the docstrings into the API reference, and ``sphinx-mathjax-offline``
copies MathJax 3 into the site so formulas render with no network.
"""

import os
import sys

ROOT = os.environ.get("MMSCRATCH_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__),
                                                                     "..", "..")))
sys.path.insert(0, ROOT)

project = "mmscratch"
author = "the mmscratch developers"
copyright = "2026, the mmscratch developers"  # noqa: A001 - Sphinx's name

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx-mathjax-offline",
]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "off"          # the notebooks are executed by the test suite
nb_merge_streams = True
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_mock_imports = ["cupy", "cupyx"]
napoleon_numpy_docstring = True
# "Attributes" sections as :ivar: fields: as attribute directives they would describe a
# NamedTuple's fields a second time (autodoc documents them as members already).
napoleon_use_ivar = True
# Our docstrings' own section headers: rendered as Notes-style blocks. Without this,
# napoleon reads a "Shapes" section as more parameters and mangles its inline literals.
napoleon_custom_sections = [("Shapes", "Notes"), ("Input", "Notes"), ("Call", "Notes"),
                            ("How the search is vectorized", "Notes"),
                            ("Where things live", "Notes")]
suppress_warnings = ["myst.header", "myst.xref_missing", "misc.highlighting_failure",
                     "autodoc", "ref.python", "toc.not_included", "mystnb.unknown_mime_type"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

html_theme = "sphinx_book_theme"
html_title = "mmscratch: multimodal learning from scratch"
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
}
html_show_sourcelink = False
html_last_updated_fmt = None
html_static_path = []


_TRAILING_UNDERSCORE = __import__("re").compile(r"(?<=\w)_(?=[\s,.;:)\]]|$)")


def _escape_fitted_names(app, what, name, obj, options, lines):
    """scikit-learn-style names such as ``coef_`` end in ``_``, which reStructuredText
    reads as a link target; escape the underscore outside inline literals."""
    for i, line in enumerate(lines):
        parts = line.split("``")
        for j in range(0, len(parts), 2):  # even parts are outside ``literals``
            segs = parts[j].split("`")
            for k in range(0, len(segs), 2):
                segs[k] = _TRAILING_UNDERSCORE.sub(r"\\_", segs[k])
            parts[j] = "`".join(segs)
        lines[i] = "``".join(parts)


#: Napoleon sections whose indented lines are descriptions, not formulas.
_FIELD_SECTIONS = {"parameters", "returns", "yields", "raises", "attributes", "warns",
                   "other parameters", "methods", "keyword arguments", "see also"}


def _escape_bars(line):
    """|x| outside ``literals`` is an absolute value, not a substitution."""
    parts = line.split("``")
    for j in range(0, len(parts), 2):
        parts[j] = parts[j].replace("|", "\\|")
    return "``".join(parts)


def _indent(line):
    return len(line) - len(line.lstrip())


def _plain_text_to_rst(app, what, name, obj, options, lines):
    """Our docstrings are plain text first (they are read in terminals and notebooks):
    formulas sit in indented blocks right under a sentence and absolute values are
    written |x|. reStructuredText would merge such a block into a quote (or refuse the
    indentation) and read |x| as a substitution; turn each such block into a literal
    block, so its alignment survives, and escape the bars elsewhere. Runs before
    napoleon, which then formats the Parameters/Returns/... sections."""
    out, section, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and set(nxt.strip()) == {"-"} and len(nxt.strip()) >= 3:
            section = line.strip().lower()
        prev = next((x for x in reversed(out) if x.strip()), None)
        indented = bool(line.strip()) and prev is not None and _indent(line) > _indent(prev)
        literal_already = indented and prev.rstrip().endswith("::")
        starts_block = (indented and not literal_already
                        and section not in _FIELD_SECTIONS
                        and not prev.lstrip().startswith((".. ", ">>>", "..."))
                        and not line.lstrip().startswith((">>>", "...", ".. ", "- ", "* ")))
        if literal_already or starts_block:
            base = _indent(prev)
            block = []
            while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            head = [] if literal_already else ["", " " * base + "::", ""]
            out += head + block + [""]
            continue
        out.append(line if line.lstrip().startswith(".. ") else _escape_bars(line))
        i += 1
    lines[:] = out


def setup(app):
    app.connect("autodoc-process-docstring", _plain_text_to_rst, priority=400)
    app.connect("autodoc-process-docstring", _escape_fitted_names)
