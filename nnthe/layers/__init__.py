"""Layers: callables on symbolic tensors that own their parameters.

A layer builds its parameters on the first call from the static shape of its input;
containers (:class:`Sequential`, subclasses of :class:`Model`) name every parameter by
its path (``'0/W'``, ``'block1/conv/W'``), so two models built by the same code can
exchange checkpoints.

Examples
--------
>>> X = T.tensor4('X', shape=(None, 1, 28, 28))
>>> model = layers.Sequential([
...     layers.Conv2D(32, 5, activation='relu'), layers.MaxPool2D(2),
...     layers.Conv2D(32, 5, activation='relu'), layers.MaxPool2D(2),
...     layers.Flatten(), layers.Dense(256, activation='relu'),
...     layers.Dropout(0.5), layers.Dense(10)])
>>> logits = model(X, training=True)
>>> model.summary()                                          # doctest: +SKIP
"""
from . import activations
from .base import Layer
from .containers import Model, Sequential
from .conv import Conv2D
from .core import Activation, Lambda
from .dense import Dense
from .embedding import Embedding
from .merge import Add, Concatenate
from .noise import Dropout
from .normalization import BatchNorm, LayerNorm
from .pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from .recurrent import GRU, LSTM, Bidirectional, SimpleRNN
from .reshape import Flatten, Reshape

__all__ = ["Layer", "Model", "Sequential", "Dense", "Conv2D", "MaxPool2D", "AvgPool2D",
           "GlobalAvgPool2D", "Flatten", "Reshape", "Dropout", "BatchNorm", "LayerNorm",
           "Embedding", "Activation", "Lambda", "Concatenate", "Add", "SimpleRNN", "LSTM", "GRU",
           "Bidirectional", "activations"]
