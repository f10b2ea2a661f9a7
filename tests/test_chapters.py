"""The chapters point at real code, real tests and real notebooks.

Every chapter in ``chapters/`` names, for each formula, the function that implements
it as ``mmscratch/<path>.py:Name``, the test that checks it as
``tests/<file>.py::test_name`` and the notebook that shows it as
``notebooks/<name>.ipynb`` (optionally followed by ``, section "Heading"``). Code moves;
these tests fail as soon as a reference goes stale, so a learner never follows a
pointer to nothing.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"

CODE_REF = re.compile(r"`(mmscratch/[\w/]+\.py):([A-Za-z_][\w.]*)`")
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:\[[^\]`]*\])?`")
NOTEBOOK_REF = re.compile(r"`(notebooks/[\w-]+\.ipynb)`(?:,? section \"([^\"]+)\")?")
LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)\s#]+)(?:#[^)]*)?\)")

#: One chapter per section of the source document (DESIGN.md, "chapters/").
EXPECTED_CHAPTERS = [
    "01-background.md",
    "02-core-concepts.md",
    "03-1-feature-extraction.md",
    "03-2-models.md",
    "03-3-tasks.md",
    "04-code-example.md",
    "05-future.md",
]


def chapter_files():
    return sorted(CHAPTERS.glob("*.md"))


def refs(pattern):
    """Every match of ``pattern`` in the chapters, as (chapter name, groups)."""
    out = []
    for path in chapter_files():
        for m in pattern.finditer(path.read_text(encoding="utf-8")):
            out.append((path.name, m.groups()))
    return out


def _ids(items):
    return [f"{name}:{':'.join(g for g in groups if g)}" for name, groups in items]


CODE = refs(CODE_REF)
TESTS = refs(TEST_REF)
NOTEBOOKS = refs(NOTEBOOK_REF)
LINKS = refs(LINK)


def test_every_section_of_the_document_has_its_chapter():
    missing = [name for name in EXPECTED_CHAPTERS if not (CHAPTERS / name).is_file()]
    assert not missing, f"chapters missing: {missing}"
    assert (CHAPTERS / "README.md").is_file(), "chapters/README.md (the index) is missing"


def test_chapters_reference_code_tests_and_notebooks():
    # a checker that finds nothing to check would pass vacuously
    assert len(CODE) >= 100 and len(TESTS) >= 80 and len(NOTEBOOKS) >= 20


@pytest.mark.parametrize("chapter,ref", CODE, ids=_ids(CODE))
def test_code_reference_resolves(chapter, ref):
    path, name = ref
    assert (ROOT / path).is_file(), f"{chapter}: {path} does not exist"
    module = importlib.import_module(path[:-3].replace("/", "."))
    obj = module
    for part in name.split("."):
        assert hasattr(obj, part), f"{chapter}: {path} has no attribute {name!r}"
        obj = getattr(obj, part)


@pytest.mark.parametrize("chapter,ref", TESTS, ids=_ids(TESTS))
def test_test_reference_exists(chapter, ref):
    path, name = ref
    file = ROOT / path
    assert file.is_file(), f"{chapter}: {path} does not exist"
    assert re.search(rf"^\s*def {name}\(", file.read_text(encoding="utf-8"), re.M), \
        f"{chapter}: {path} defines no test {name!r}"


def _headings(notebook: Path):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [line.lstrip("#").strip() for c in cells if c["cell_type"] == "markdown"
            for line in "".join(c["source"]).splitlines() if line.startswith("#")]


@pytest.mark.parametrize("chapter,ref", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_reference_exists(chapter, ref):
    path, section = ref
    notebook = ROOT / path
    assert notebook.is_file(), f"{chapter}: {path} does not exist"
    if section:
        headings = _headings(notebook)
        assert any(section in h for h in headings), \
            f"{chapter}: {path} has no section {section!r}; its headings: {headings}"


def test_every_notebook_is_explained_by_a_chapter():
    named = {path for _, (path, _section) in NOTEBOOKS}
    orphans = [p.name for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
               if f"notebooks/{p.name}" not in named]
    assert not orphans, f"notebooks no chapter points to: {orphans}"


@pytest.mark.parametrize("chapter,ref", LINKS, ids=_ids(LINKS))
def test_relative_links_resolve(chapter, ref):
    (target,) = ref
    assert (CHAPTERS / target).resolve().exists(), f"{chapter}: broken link {target}"
