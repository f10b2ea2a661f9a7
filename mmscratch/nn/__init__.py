"""Layers with explicit forward and backward passes, losses, optimizers and models."""

from . import callbacks, initializers
from .activations import Linear, ReLU, Sigmoid, Softmax, Tanh
from .attention import (
    Attention,
    MultiHeadAttention,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from .contrastive import InfoNCELoss
from .conv import AveragePooling2D, Conv2D, GlobalAveragePooling2D, MaxPooling2D
from .dense import Dense
from .embedding import Embedding
from .gru import GRU
from .layer import LAYER_REGISTRY, Layer, register_layer
from .losses import CategoricalCrossentropy, MeanSquaredError, SoftmaxCrossEntropy
from .mfcc_layer import MFCCLayer
from .model import load_model, save_model
from .normalization import BatchNormalization, LayerNormalization
from .optimizers import SGD, Adam, clip_grad_norm
from .recurrent import LSTM, SimpleRNN
from .sequential import Sequential
from .shape import Dropout, ExpandDims, Flatten
from .transformer import PositionalEncoding, TransformerEncoder

__all__ = [
    "callbacks",
    "Layer", "LAYER_REGISTRY", "register_layer", "initializers", "ExpandDims",
    "Dense", "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
    "ReLU", "Tanh", "Sigmoid", "Softmax", "Linear", "Flatten", "Dropout",
    "SoftmaxCrossEntropy", "CategoricalCrossentropy", "MeanSquaredError",
    "InfoNCELoss",
    "SGD", "Adam", "clip_grad_norm",
    "Sequential", "save_model", "load_model",
    "MFCCLayer", "MFCC",
    "SimpleRNN", "LSTM", "Embedding", "Attention", "MultiHeadAttention",
    "scaled_dot_product_attention", "scaled_dot_product_attention_backward",
    "GRU", "LayerNormalization", "BatchNormalization", "PositionalEncoding",
    "TransformerEncoder",
]

#: The issue's name for the layer; ``mmscratch.features.MFCC`` is the feature extractor.
MFCC = MFCCLayer
