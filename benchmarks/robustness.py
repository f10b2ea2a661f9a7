"""Robustness of every fusion model on AV-MNIST to one degraded modality (MultiBench protocol).

For each seed: train the unimodal models and every fusion (modality dropout 0.3), then
evaluate each on the test set with one modality degraded at 10 increasing levels
(MultiBench's 0.0, 0.1, ..., 0.9):

* image, Gaussian noise: x + sigma n, sigma = level (pixels in [0, 1]);
* image, occlusion: a square covering ``level`` of the image area, random position;
* audio, white noise at falling SNR: +inf (none), 20, 15, ..., -20 dB added to the
  (already 10 dB) clips, MFCCs recomputed with the training statistics.

Writes the curves to benchmarks/robustness.json, the figure to
chapters/figures/robustness_avmnist.png and a table (clean and missing-modality accuracy,
relative robustness = area under the curve, effective robustness against late fusion) to
the "robustness" section of benchmarks/RESULTS.md.

    OPENBLAS_NUM_THREADS=1 MMSCRATCH_DATA=../shared/data python benchmarks/robustness.py \
        --seeds 1 --epochs 10
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _new_fusions import new_fusion_model  # noqa: E402
from _report import machine, write_section  # noqa: E402

from mmscratch import backend, nn  # noqa: E402
from mmscratch.datasets import load  # noqa: E402
from mmscratch.multimodal import build_model  # noqa: E402
from mmscratch.multimodal.robustness import (  # noqa: E402
    NOISE_LEVELS,
    audio_at_snr,
    effective_robustness,
    gaussian_noise,
    occlude,
    relative_robustness,
)

MODELS = ("image only", "audio only", "early", "late", "tensor", "attention", "gated",
          "lowrank", "crossmodal")
SNRS = (None, 20, 15, 10, 5, 0, -5, -10, -15, -20)  # dB of the added noise, one per level
NOISES = {"image gaussian": "image", "image occlusion": "image", "audio white noise": "audio"}


def make(fusion, shapes, seed, dropout):
    from mmscratch.multimodal import FUSIONS

    if fusion.endswith(" only"):
        m = fusion.split()[0]
        return build_model({m: shapes[m]}, (m,), "early", seed=seed), (m,)
    if fusion not in FUSIONS:
        return new_fusion_model(shapes, fusion, seed, dropout), ("image", "audio")
    return build_model(shapes, ("image", "audio"), fusion, seed=seed,
                       modality_dropout=dropout), ("image", "audio")


def accuracy(model, x, y):
    return float((backend.to_numpy(model.predict(x)).argmax(axis=1) == y).mean())


def degraded(noise, level_index, data, seed):
    """The test inputs with one modality degraded at the given level (host arrays)."""
    te = data["test"]
    x = {"image": te["image"], "audio": te["audio"]}
    level = NOISE_LEVELS[level_index]
    if noise == "image gaussian":
        x["image"] = backend.to_numpy(gaussian_noise(te["image"], level, seed=seed))
    elif noise == "image occlusion":
        x["image"] = backend.to_numpy(occlude(te["image"], level, seed=seed))
    else:
        x["audio"] = audio_at_snr(te, data["info"], SNRS[level_index], seed=seed)
    return x


def run(seeds, epochs, dropout, data_dir, models):
    curves, clean = {}, {}
    for seed in seeds:
        data = load("avmnist", data_dir=data_dir, seed=seed)
        tr, te = data["train"], data["test"]
        shapes = {m: tr[m].shape[1:] for m in ("image", "audio")}
        inputs = {noise: [degraded(noise, i, data, seed) for i in range(len(NOISE_LEVELS))]
                  for noise in NOISES}
        for name in models:
            t0 = time.time()
            model, mods = make(name, shapes, seed, dropout)
            model.compile(nn.Adam(1e-3), nn.SoftmaxCrossEntropy(), metrics=["accuracy"])
            model.fit({m: tr[m] for m in mods}, tr["label"], epochs=epochs, batch_size=64,
                      seed=seed, verbose=0)
            row = clean.setdefault(name, {})
            row.setdefault("all", []).append(accuracy(model, {m: te[m] for m in mods},
                                                      te["label"]))
            if len(mods) == 2:
                for missing in mods:
                    kept = {m: te[m] for m in mods if m != missing}
                    row.setdefault(f"without {missing}", []).append(
                        accuracy(model, kept, te["label"]))
            for noise, modality in NOISES.items():
                if modality not in mods:
                    continue
                curve = [accuracy(model, {m: x[m] for m in mods}, te["label"])
                         for x in inputs[noise]]
                curves.setdefault(noise, {}).setdefault(name, []).append(curve)
            print(f"seed {seed} {name}: clean {row['all'][-1]:.4f} "
                  f"({time.time() - t0:.0f} s)", flush=True)
    return clean, curves


def summarise(clean, curves):
    mean = {noise: {name: np.mean(c, axis=0).tolist() for name, c in per.items()}
            for noise, per in curves.items()}
    rr = {noise: {name: relative_robustness(c) for name, c in per.items()}
          for noise, per in mean.items()}
    er = {noise: {name: effective_robustness(c, per["late"]) for name, c in per.items()
                  if "late" in per} for noise, per in mean.items()}
    return mean, rr, er


def plot(mean, path):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(mean), figsize=(5 * len(mean), 4), sharey=True)
    for ax, (noise, per) in zip(axes, mean.items()):
        for name, curve in per.items():
            style = "--" if name.endswith(" only") else "-"
            ax.plot(NOISE_LEVELS, curve, style, marker="o", ms=3, label=name)
        if noise.startswith("audio"):
            ax.set_xticks(NOISE_LEVELS, ["none"] + [f"{s}" for s in SNRS[1:]], fontsize=7)
            ax.set_xlabel("SNR of the added white noise (dB)")
        else:
            ax.set_xlabel("sigma" if noise.endswith("gaussian") else "occluded area fraction")
        ax.set_title(noise)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("test accuracy")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def table(clean, mean, rr, er):
    lines = ["| model | all | without image | without audio | "
             + " | ".join(f"{n} RR / ER" for n in NOISES) + " |",
             "|---" * (4 + len(NOISES)) + "|"]

    def pct(v):
        return f"{100 * np.mean(v):.1f}" if v else ""

    for name, row in clean.items():
        cells = [pct(row.get("all")), pct(row.get("without image")),
                 pct(row.get("without audio"))]
        for noise in NOISES:
            if name in rr[noise]:
                e = er[noise].get(name)
                cells.append(f"{rr[noise][name]:.3f} / {e:+.2f}" if e is not None
                             else f"{rr[noise][name]:.3f}")
            else:
                cells.append("")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--modality-dropout", type=float, default=0.3)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--data-dir", default=None)
    p.add_argument("--merge", action="store_true",
                   help="rerun only --models and keep the other rows of robustness.json "
                        "(its curves are the seed means of the earlier run)")
    p.add_argument("--plot-only", action="store_true",
                   help="redraw the figure from benchmarks/robustness.json, train nothing")
    args = p.parse_args()
    figure = ROOT / "chapters" / "figures" / "robustness_avmnist.png"
    if args.plot_only:
        plot(json.loads(Path(__file__).with_name("robustness.json").read_text())["curves"],
             figure)
        return
    t0 = time.time()
    models = args.models.split(",")
    clean, curves = run(range(args.seeds), args.epochs, args.modality_dropout, args.data_dir,
                        models)
    json_path = Path(__file__).with_name("robustness.json")
    if args.merge:  # keep the other models' results of the earlier run (same settings)
        old = json.loads(json_path.read_text())
        clean = {**{k: v for k, v in old["clean"].items() if k not in clean}, **clean}
        clean = {k: clean[k] for k in MODELS if k in clean}
        for noise, per in old["curves"].items():
            kept = {k: [v] for k, v in per.items() if k not in curves.get(noise, {})}
            curves[noise] = {k: ({**kept, **curves.get(noise, {})})[k] for k in MODELS
                             if k in kept or k in curves.get(noise, {})}
    mean, rr, er = summarise(clean, curves)
    plot(mean, figure)
    json_path.write_text(json.dumps(
        {"levels": NOISE_LEVELS, "snr_db": SNRS, "clean": clean, "curves": mean,
         "relative_robustness": rr, "effective_robustness": er,
         "settings": vars(args)}, indent=1))
    text = (f"## Robustness to a degraded modality (`benchmarks/robustness.py`)\n\n"
            f"AV-MNIST, {args.seeds} seed(s), {args.epochs} epochs, Adam 1e-3, batch 64, "
            f"fusions trained with modality dropout {args.modality_dropout}; test accuracy "
            "(%) with both modalities and with one left out, then for each degradation "
            "(10 levels: image Gaussian noise sigma 0-0.9, occluded area 0-90 %, audio "
            "white noise at SNR none, 20, 15, ..., -20 dB) MultiBench's relative robustness "
            "RR (area under the accuracy curve, spacing 0.1, at most 0.9) and effective "
            "robustness ER (sum over levels of the accuracy kept beyond late fusion's curve "
            "shifted to the same clean accuracy; late fusion is 0), both raw (MultiBench "
            "also min-max normalises them across methods). Unimodal models appear only "
            "under their own modality's noise. Curves: chapters/figures/"
            f"robustness_avmnist.png. Machine: {machine()}, shared with other jobs; total "
            f"{(time.time() - t0) / 60:.0f} min"
            + (f" for the rows {', '.join(models)}, rerun with `--merge` (the other rows are "
               "kept from the earlier run with the same settings)" if args.merge else "")
            + ".\n\n" + table(clean, mean, rr, er))
    write_section("robustness", text)
    print(text)


if __name__ == "__main__":
    main()
