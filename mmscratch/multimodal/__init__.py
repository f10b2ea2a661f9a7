"""Multimodal fusion blocks and classifiers (chapters/04-code-example.md)."""

from .adaptive import GatedFusion, LowRankTensorFusion
from .classifier import MultimodalClassifier
from .contrastive import ContrastiveDualEncoder, DualEncoder, build_dual_encoder
from .crossmodal import CrossModalAttentionFusion, Tokens, token_branch
from .fusion import AttentionFusion, ConcatFusion, FusionLayer, LateFusion, TensorFusion
from .mkl import MultiKernelSVC
from .models import build_model, document_model
from .registry import FUSION_REGISTRY, FUSIONS, FusionSpec, get_fusion, register_fusion
from .transformer_fusion import TransformerFusion  # registers transformer, mult

__all__ = ["FusionLayer", "ConcatFusion", "LateFusion", "AttentionFusion", "TensorFusion",
           "GatedFusion", "LowRankTensorFusion", "CrossModalAttentionFusion", "Tokens",
           "token_branch",
           "ContrastiveDualEncoder", "DualEncoder", "build_dual_encoder",
           "MultimodalClassifier", "document_model", "build_model", "FUSIONS",
           "MultiKernelSVC", "register_fusion", "get_fusion", "FusionSpec",
           "FUSION_REGISTRY", "TransformerFusion"]
