"""Build the mmscratch book, a static website, from chapters/, the executed notebooks/
and the docstrings (API reference), into one folder; no network needed.

Usage::

    pip install -r requirements-docs.txt     # once: Sphinx, MyST-NB, the book theme, MathJax
    python scripts/build_site.py             # -> build/site/index.html
    python scripts/build_site.py --out DIR

The sources are staged first (chapters and notebooks side by side, as in the repository,
so their relative links resolve; code references such as ``mmscratch/nn/dense.py:Dense``
become links to the API reference; one API page per module), then Sphinx builds HTML.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "docs" / "site" / "conf.py"

#: `mmscratch/nn/dense.py:Dense` or `mmscratch/nn/dense.py` in backticks.
CODE_REF = re.compile(r"(?<!`)`(mmscratch/[\w/]+)\.py(?::([\w.]+))?`(?!`)")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def library_modules():
    for path in sorted((ROOT / "mmscratch").rglob("*.py")):
        if path.name == "__main__.py":
            continue
        yield module_name(path)


def link_code(text: str, modules: set[str], depth: str) -> str:
    """Turn backticked code references into links to the module's API page."""
    def repl(match):
        module = match.group(1).replace("/", ".")
        if module not in modules:
            return match.group(0)
        anchor = f"#{module}.{match.group(2)}" if match.group(2) else ""
        return f"[`{match.group(0)[1:-1]}`]({depth}api/{module}.md{anchor})"
    return CODE_REF.sub(repl, text)


def stage(src: Path) -> list[str]:
    """Write the Sphinx source tree into ``src``; returns the chapter page names."""
    modules = set(library_modules())
    shutil.copy(CONF, src / "conf.py")
    # the chapters folder as it is (figures included), then the Markdown with code links
    shutil.copytree(ROOT / "chapters", src / "chapters")
    chapters = sorted(p for p in (ROOT / "chapters").glob("*.md") if p.name != "README.md")
    for path in [ROOT / "chapters" / "README.md", *chapters]:
        text = link_code(path.read_text(encoding="utf-8"), modules, "../")
        (src / "chapters" / path.name).write_text(text, encoding="utf-8")
    (src / "notebooks").mkdir()
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in notebooks:
        shutil.copy(path, src / "notebooks" / path.name)
    (src / "api").mkdir()
    for module in sorted(modules):
        title = f"`{module}`"
        (src / "api" / f"{module}.md").write_text(
            f"# {title}\n\n```{{eval-rst}}\n.. automodule:: {module}\n```\n", encoding="utf-8")
    readme = link_code((ROOT / "README.md").read_text(encoding="utf-8"), modules, "")
    readme = readme.replace("](chapters/README.md)", "](chapters/README.md)")
    toc = ["", "```{toctree}", ":caption: Chapters", ":maxdepth: 1", "",
           "chapters/README", *[f"chapters/{p.stem}" for p in chapters], "```", "",
           "```{toctree}", ":caption: Notebooks", ":maxdepth: 1", "",
           *[f"notebooks/{p.stem}" for p in notebooks], "```", "",
           "```{toctree}", ":caption: API reference", ":maxdepth: 1", "",
           *[f"api/{m}" for m in sorted(modules)], "```", ""]
    (src / "index.md").write_text(readme + "\n" + "\n".join(toc), encoding="utf-8")
    return [p.stem for p in chapters]


def build(out: Path, quiet: bool = True) -> Path:
    """Stage the sources and run Sphinx; returns the output folder.

    Sphinx's warnings also go to ``<out>-warnings.txt`` beside it (tests/test_site.py reads
    them: a docstring that reStructuredText cannot parse renders mangled).
    """
    from sphinx.cmd.build import build_main

    out = Path(out).resolve()
    src = out.parent / (out.name + "-src")
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    stage(src)
    warnings = out.parent / (out.name + "-warnings.txt")
    args = ["-b", "html", "-j", "auto", "-w", str(warnings), str(src), str(out)]
    if quiet:
        args.insert(0, "-q")
    status = build_main(args)
    if status != 0:
        raise SystemExit(f"sphinx-build failed with status {status}")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "build" / "site"),
                        help="output folder (default: build/site)")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = build(Path(args.out), quiet=not args.verbose)
    pages = len(list(out.rglob("*.html")))
    print(f"built {pages} pages into {out} in {time.perf_counter() - start:.0f} s; "
          f"open {out / 'index.html'}")


if __name__ == "__main__":
    sys.exit(main())
