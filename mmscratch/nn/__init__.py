"""Layers with explicit forward and backward passes, losses, optimizers and models."""

from .layer import LAYER_REGISTRY, Layer

__all__ = ["Layer", "LAYER_REGISTRY"]
