"""The README's results table: unimodal models vs four fusions, with modalities missing.

For each data set (the embedded ``digits`` and the real-data ``avmnist``) and each seed:

* one unimodal model per modality (the same branch, then the same head);
* early (concat), late (averaged probabilities), tensor and attention fusion of all
  modalities, trained with modality dropout, evaluated with every modality present and
  with each one left out at test time.

Prints and writes mean +- std of test accuracy over the seeds to the "fusion" section of
benchmarks/RESULTS.md and to benchmarks/fusion_results.json.

    OPENBLAS_NUM_THREADS=1 MMSCRATCH_DATA=../shared/data python benchmarks/fusion_results.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _new_fusions import new_fusion_model  # noqa: E402
from _report import machine, write_section  # noqa: E402

from mmscratch import backend, nn  # noqa: E402
from mmscratch.datasets import load  # noqa: E402
from mmscratch.multimodal import FUSIONS as BUILT_IN  # noqa: E402
from mmscratch.multimodal import build_model  # noqa: E402

FUSIONS = ("early", "late", "tensor", "attention", "gated", "lowrank", "crossmodal",
           "transformer", "mult")


def accuracy(model, x, y):
    pred = backend.to_numpy(model.predict(x)).argmax(axis=1)
    return float((pred == y).mean())


def train(data, modalities, fusion, seed, epochs, dropout, audio_branch="cnn"):
    xtr = {m: data["train"][m] for m in modalities}
    shapes = {m: xtr[m].shape[1:] for m in modalities}
    if fusion in BUILT_IN:
        model = build_model(shapes, modalities, fusion, seed=seed,
                            modality_dropout=dropout if len(modalities) > 1 else 0.0,
                            audio_branch=audio_branch)
    else:
        model = new_fusion_model(shapes, fusion, seed, dropout)
    model.compile(nn.Adam(1e-3), nn.SoftmaxCrossEntropy(), metrics=["accuracy"])
    model.fit(xtr, data["train"]["label"], epochs=epochs, batch_size=64, seed=seed, verbose=0)
    return model


def run_dataset(name, seeds, epochs, dropout, data_dir, fusions=FUSIONS, unimodal=True):
    rows = {}
    for seed in seeds:
        data = load(name, data_dir=data_dir, seed=seed)
        modalities = [m for m in ("image", "audio", "text") if m in data["train"]]
        xte = {m: data["test"][m] for m in modalities}
        yte = data["test"]["label"]
        for m in modalities if unimodal else ():
            t0 = time.time()
            model = train(data, (m,), "early", seed, epochs, dropout)
            rows.setdefault(f"{m} only", {}).setdefault("all", []).append(
                accuracy(model, {m: xte[m]}, yte))
            print(f"{name} seed {seed} {m}-only {rows[f'{m} only']['all'][-1]:.4f} "
                  f"({time.time() - t0:.0f} s)", flush=True)
        for fusion in fusions:
            if fusion == "crossmodal" and modalities != ["image", "audio"]:
                continue  # cross-modal attention pairs exactly image and audio
            t0 = time.time()
            model = train(data, tuple(modalities), fusion, seed, epochs, dropout)
            row = rows.setdefault(f"{fusion} fusion", {})
            row.setdefault("all", []).append(accuracy(model, xte, yte))
            for missing in modalities:
                kept = {m: xte[m] for m in modalities if m != missing}
                row.setdefault(f"without {missing}", []).append(accuracy(model, kept, yte))
            print(f"{name} seed {seed} {fusion}: " + ", ".join(
                f"{k} {v[-1]:.4f}" for k, v in row.items()) + f" ({time.time() - t0:.0f} s)",
                flush=True)
    return modalities, rows


def fmt(values):
    v = 100 * np.asarray(values)
    return f"{v.mean():.1f} ± {v.std():.1f}"


def table(name, modalities, rows):
    cols = ["all"] + [f"without {m}" for m in modalities]
    lines = [f"**{name}** — test accuracy (%), mean ± std over seeds",
             "", "| model | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for label, row in rows.items():
        lines.append(f"| {label} | " + " | ".join(fmt(row[c]) if c in row else "" for c in cols)
                     + " |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="digits,avmnist")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--modality-dropout", type=float, default=0.3)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--fusions", default=",".join(FUSIONS),
                   help="comma-separated subset of " + ",".join(FUSIONS))
    p.add_argument("--merge", action="store_true",
                   help="keep the rows of fusion_results.json and only add/replace the rows "
                        "run now (no unimodal rows are rerun)")
    args = p.parse_args()
    t0 = time.time()
    results, parts = {}, []
    json_path = Path(__file__).with_name("fusion_results.json")
    if args.merge:
        results = json.loads(json_path.read_text())
    for name in args.data.split(","):
        modalities, rows = run_dataset(name, range(args.seeds), args.epochs,
                                       args.modality_dropout, args.data_dir,
                                       args.fusions.split(","), unimodal=not args.merge)
        if args.merge:
            rows = {**results.get(name, {}), **rows}
        results[name] = rows
    for name, rows in results.items():  # with --merge, also the data sets not rerun now
        modalities = [m for m in ("image", "audio", "text")
                      if any(f"without {m}" in row for row in rows.values())
                      or f"{m} only" in rows]
        parts.append(table(name, modalities, rows))
    header = (f"## Multimodal fusion (`benchmarks/fusion_results.py`)\n\n"
              f"{args.seeds} seeds, {args.epochs} epochs, Adam 1e-3, batch 64; fusion models "
              f"trained with modality dropout {args.modality_dropout}; 'without m' evaluates "
              "the same fused model with modality m left out of the input. Unimodal rows use "
              "the same branch and head. Audio: small CNN over the MFCC matrix; image: small CNN; "
              f"text: Dense 128-64 on TF-IDF. Machine: {machine()}; total "
              f"{(time.time() - t0) / 60:.0f} min.")
    if args.merge:
        header = header.replace("; total", "; rows " + ", ".join(args.fusions.split(",")) +
                                " added with `--merge` (the other rows are kept from the earlier"
                                " full run, same settings), which took")
    text = "\n\n".join([header, *parts])
    write_section("fusion", text)
    json_path.write_text(json.dumps(results, indent=1))
    print(text)


if __name__ == "__main__":
    main()
