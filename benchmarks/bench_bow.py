"""Bag-of-words speed: mmscratch vs scikit-learn fit_transform on the whole text corpus.

Run: ``MMSCRATCH_DATA=/path/to/data python benchmarks/bench_bow.py [--repeat 5]``.
Writes the section "bow" of benchmarks/RESULTS.md. Goal: within 1.5x of scikit-learn.
Both sides tokenize with the same regular expression in Python; mmscratch then counts
all tokens with one ``np.unique`` instead of a Python dict per document.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.feature_extraction import text as sk  # noqa: E402

from benchmarks._report import best_of, machine, write_section  # noqa: E402
from mmscratch import backend  # noqa: E402
from mmscratch.datasets.text import load_text  # noqa: E402
from mmscratch.features import CountVectorizer, TfidfVectorizer  # noqa: E402

CASES = [
    ("CountVectorizer()", CountVectorizer, sk.CountVectorizer, {}),
    ("CountVectorizer(max_features=1000)", CountVectorizer, sk.CountVectorizer,
     {"max_features": 1000}),
    ("TfidfVectorizer()", TfidfVectorizer, sk.TfidfVectorizer, {}),
    ("TfidfVectorizer(stop_words='english', ngram_range=(1, 2), min_df=2)", TfidfVectorizer,
     sk.TfidfVectorizer, {"stop_words": "english", "ngram_range": (1, 2), "min_df": 2}),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    d = load_text()
    docs = d.train_texts + d.test_texts
    n_words = sum(len(t.split()) for t in docs)
    rows = []
    for label, ours, ref, kw in CASES:
        t_ours = best_of(lambda o=ours, k=kw: o(**k).fit_transform(docs), repeat=args.repeat,
                         sync=backend.synchronize)
        t_ref = best_of(lambda r=ref, k=kw: r(**k).fit_transform(docs), repeat=args.repeat)
        ratio = t_ours / t_ref
        rows.append(f"| `{label}` | {t_ours * 1e3:.0f} | {t_ref * 1e3:.0f} | {ratio:.2f} |")
        print(rows[-1], flush=True)
    md = "\n".join([
        "## bow: bag-of-words / TF-IDF fit_transform (`benchmarks/bench_bow.py`)",
        "",
        f"Whole 20 Newsgroups 4-group corpus: {len(docs)} documents, {n_words:,} words "
        f"(raw messages with headers). Best of {args.repeat} runs, backend "
        f"`{backend.name()}`; {machine()}. The machine is shared with other jobs, so "
        "timings are noisy. Goal: ratio <= 1.5.",
        "",
        "| case | mmscratch ms | scikit-learn ms | ratio |",
        "|---|---:|---:|---:|",
        *rows,
    ])
    print(md)
    if not args.no_write:
        write_section("bow", md)


if __name__ == "__main__":
    main()
