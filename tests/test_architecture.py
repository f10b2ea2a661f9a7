"""The package's floors (docs/ARCHITECTURE.md), kept true by parsing every import.

Specification
-------------
Every ``mmscratch`` module belongs to one unit (a top-level module such as ``backend``
or a subpackage such as ``nn``), and every unit to one floor:

0. core: ``backend`` (imports no other mmscratch module), ``errors``, ``_safe_io``,
   ``base``, ``extmath``, ``distances``, ``gradcheck``, ``metrics``, ``plots``;
1. building blocks: ``nn`` (layers, losses, models), ``features``, ``unsupervised``,
   ``supervised`` (estimators);
2. ``multimodal``;
3. ``datasets`` and the command line ``__main__``.

A unit imports only from its own floor's allowed units and the floors below: core
from core, a floor-1 unit from core (``nn`` also from ``features``: the MFCC layer
wraps the extractor), ``multimodal`` from floors 0-1, ``datasets`` from floors 0-1,
``__main__`` from anything. ``import mmscratch`` itself loads only ``backend`` and
``errors``. Imports inside functions count too: a lazy import does not make an upward
dependency right. No module is longer than 700 lines (the ones listed below with a
reason excepted, until they are split).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "mmscratch"

CORE = {"backend", "errors", "_safe_io", "base", "extmath", "distances", "gradcheck",
        "metrics", "plots"}
FLOOR = {**{u: 0 for u in CORE}, "nn": 1, "features": 1, "unsupervised": 1,
         "supervised": 1, "multimodal": 2, "datasets": 3, "__main__": 3, "__init__": 3}
#: Imports within a floor that are allowed (everything below a unit's floor is).
SAME_FLOOR = {
    "backend": set(),
    **{u: CORE - {u} for u in CORE - {"backend"}},
    "nn": {"features"},
    "features": set(), "unsupervised": set(), "supervised": set(),
    "multimodal": set(),
    "datasets": set(),
    "__main__": {"datasets"},
    "__init__": set(),
}
#: Units a floor-3 unit may not import although they are below it.
FORBIDDEN = {"datasets": {"multimodal", "__main__"}, "__init__": set()}
#: Modules longer than the limit, with the reason they are not split yet.
LONG: dict = {}
MAX_LINES = 700


def unit_of(rel: Path) -> str:
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_units(path: Path):
    """(unit, line) for every mmscratch module ``path`` imports, at any depth."""
    rel = path.relative_to(ROOT)
    package = list(rel.parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [])
            names = [target] if node.module and target else \
                [target + [a.name] for a in node.names]
            for t in names:
                yield t[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mmscratch."):
            yield node.module.split(".")[1], node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("mmscratch."):
                    yield a.name.split(".")[1], node.lineno


MODULES = sorted(p for p in ROOT.rglob("*.py"))


def test_every_unit_has_a_floor():
    units = {unit_of(p.relative_to(ROOT)) for p in MODULES}
    assert units <= set(FLOOR), f"give {sorted(units - set(FLOOR))} a floor here and in " \
                                "docs/ARCHITECTURE.md"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_respect_the_floors(path):
    src = unit_of(path.relative_to(ROOT))
    bad = []
    for tgt, line in imported_units(path):
        if tgt == src or tgt not in FLOOR:
            continue
        ok = (FLOOR[tgt] < FLOOR[src] or tgt in SAME_FLOOR.get(src, set())) \
            and tgt not in FORBIDDEN.get(src, set())
        if not ok:
            bad.append(f"line {line}: {src} (floor {FLOOR[src]}) imports {tgt} "
                       f"(floor {FLOOR[tgt]})")
    assert not bad, f"{path.relative_to(ROOT)}: " + "; ".join(bad)


def test_the_unit_graph_has_no_cycle():
    edges = {}
    for path in MODULES:
        src = unit_of(path.relative_to(ROOT))
        edges.setdefault(src, set()).update(
            t for t, _ in imported_units(path) if t != src and t in FLOOR)
    state = {}

    def visit(u, trail):
        if state.get(u) == "done":
            return
        assert state.get(u) != "open", f"import cycle: {' -> '.join(trail + [u])}"
        state[u] = "open"
        for v in sorted(edges.get(u, ())):
            visit(v, trail + [u])
        state[u] = "done"

    for u in sorted(edges):
        visit(u, [])


def test_import_mmscratch_stays_light():
    units = {t for t, _ in imported_units(ROOT / "__init__.py")}
    assert units <= {"backend", "errors"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_too_long(path):
    rel = str(path.relative_to(ROOT))
    n = len(path.read_text().splitlines())
    if rel in LONG:
        return
    assert n <= MAX_LINES, f"{rel} has {n} lines; split it (docs/ARCHITECTURE.md)"


def test_the_architecture_page_names_every_unit():
    page = (ROOT.parent / "docs" / "ARCHITECTURE.md").read_text()
    for unit in FLOOR:
        if unit != "__init__":
            assert f"`{unit}" in page, f"docs/ARCHITECTURE.md does not mention {unit}"
