"""Fusions added by issue 17, built like ``build_model``'s (same branches and head).

Used by the benchmarks until ``build_model`` takes them through the fusion registry.
"""

from __future__ import annotations

from mmscratch import nn


def new_fusion_model(shapes, fusion, seed, dropout, width=64):
    """Until the fusion registry lands: the same branches and head as build_model."""
    from mmscratch.multimodal import (
        CrossModalAttentionFusion,
        GatedFusion,
        LowRankTensorFusion,
        MultimodalClassifier,
        token_branch,
    )
    from mmscratch.multimodal.models import _audio_branch, _image_branch, _text_branch

    if fusion.split("_")[0] in ("transformer", "mult"):  # issue 18: TransformerFusion
        from mmscratch.multimodal.transformer_fusion import transformer_fusion_model

        kind, _, tokens = fusion.partition("_")  # "transformer_slots": 4 tokens per modality
        return transformer_fusion_model(shapes, list(shapes), kind, seed=seed,
                                        modality_dropout=dropout, tokens=tokens or "patches")
    if fusion == "crossmodal":
        branches = {"image": token_branch("image", shapes["image"], 32, seed),
                    "audio": token_branch("audio", shapes["audio"], 32, seed + 10)}
        fuse = CrossModalAttentionFusion(2, 16, seed=seed + 99)
    else:
        makers = {"image": lambda s: _image_branch(shapes["image"], width, s),
                  "audio": lambda s: _audio_branch(width, s, "cnn", shapes["audio"]),
                  "text": lambda s: _text_branch(width, s)}
        branches = {m: makers[m](seed + 10 * i) for i, m in enumerate(shapes)}
        fuse = (GatedFusion(width, seed=seed + 99) if fusion == "gated"
                else LowRankTensorFusion(4, width, seed=seed + 99))
    head = [nn.Dense(128, activation="relu", seed=seed + 100), nn.Dropout(0.5, seed=seed + 101),
            nn.Dense(10, seed=seed + 102)]
    return MultimodalClassifier(branches, fuse, head, modality_dropout=dropout, seed=seed)
