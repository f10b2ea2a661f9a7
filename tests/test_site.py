"""The book website builds offline from chapters/, notebooks/ and the docstrings.

One build per test session (``scripts/build_site.py``, the README's command); the checks
are what a reader needs: a page for every chapter and notebook, formulas typeset by a
MathJax bundled in the site, notebook figures inline, an API page per module, and no page
loading scripts or styles from the internet.
"""

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]
pytest.importorskip("sphinx", reason="the site needs requirements-docs.txt")
pytest.importorskip("myst_nb", reason="the site needs requirements-docs.txt")
pytest.importorskip("sphinx_book_theme", reason="the site needs requirements-docs.txt")
if importlib.util.find_spec("sphinx-mathjax-offline") is None:
    pytest.skip("the site needs sphinx-mathjax-offline (requirements-docs.txt)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import build_site
    finally:
        sys.path.pop(0)
    return build_site.build(tmp_path_factory.mktemp("book") / "site")


def html_pages(site):
    return sorted(site.rglob("*.html"))


def test_every_chapter_and_notebook_has_a_page(site):
    for chapter in (ROOT / "chapters").glob("*.md"):
        assert (site / "chapters" / f"{chapter.stem}.html").is_file(), chapter.name
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        assert (site / "notebooks" / f"{notebook.stem}.html").is_file(), notebook.name


def test_no_page_loads_anything_from_the_internet(site):
    remote = re.compile(r"<(script|link|img|iframe)\b[^>]*(src|href)=\"(https?:)?//", re.I)
    offenders = [f"{p.relative_to(site)}: {m.group(0)}" for p in html_pages(site)
                 for m in remote.finditer(p.read_text(encoding="utf-8"))
                 if m.group(1).lower() != "link" or "stylesheet" in m.group(0)
                 or "preload" in m.group(0)]
    assert not offenders, offenders[:5]


def test_formulas_are_typeset_by_the_bundled_mathjax(site):
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()
    page = (site / "chapters" / "03-1-feature-extraction.html").read_text(encoding="utf-8")
    assert re.search(r'<script[^>]*src="[^"]*_static/mathjax/tex-chtml\.js', page)
    assert 'class="math' in page and r"\sum" in page


def test_notebook_pages_show_their_figures(site):
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        figures = sum("image/png" in out.get("data", {}) for c in cells
                      for out in c.get("outputs", []))
        page = (site / "notebooks" / f"{notebook.stem}.html").read_text(encoding="utf-8")
        assert page.count("<img") >= figures, notebook.name


def test_chapters_link_their_notebooks_and_the_code(site):
    page = (site / "chapters" / "README.html").read_text(encoding="utf-8")
    assert 'href="../notebooks/04_mfcc.html"' in page
    models = (site / "chapters" / "03-2-models.html").read_text(encoding="utf-8")
    assert 'href="../api/mmscratch.nn.dense.html#mmscratch.nn.dense.Dense"' in models


def test_the_api_reference_has_a_page_per_module_with_its_docstrings(site):
    page = (site / "api" / "mmscratch.nn.dense.html").read_text(encoding="utf-8")
    assert 'id="mmscratch.nn.dense.Dense"' in page
    for path in (ROOT / "mmscratch").rglob("*.py"):
        if path.name in ("__main__.py",):
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        assert (site / "api" / f"{name}.html").is_file(), name


def test_every_image_a_page_shows_is_in_the_site(site):
    missing = []
    for page in html_pages(site):
        for src in re.findall(r'<img[^>]*src="([^"]+)"', page.read_text(encoding="utf-8")):
            if src.startswith("data:"):
                continue
            if not (page.parent / src.split("#")[0]).resolve().is_file():
                missing.append(f"{page.relative_to(site)}: {src}")
    assert not missing, missing[:5]


def test_every_docstring_parses_as_restructuredtext(site):
    """A docstring docutils cannot parse renders mangled (a Notes paragraph shown as a list
    of parameters, a formula as a quote): no warning may name one."""
    log = site.parent / (site.name + "-warnings.txt")
    bad = [line for line in log.read_text(encoding="utf-8").splitlines()
           if "docstring of" in line]
    assert not bad, "\n".join(bad[:20])
