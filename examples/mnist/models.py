"""The MNIST models of the example, shared by train.py and evaluate.py.

A checkpoint stores the architecture's name (``meta['model']``), so evaluate.py rebuilds
the same model and loads the parameters by name.
"""
from __future__ import annotations

from nnthe import layers


def mlp() -> layers.Sequential:
    """The 800-800 ReLU MLP with dropout (0.2 on the input, 0.5 on the hidden layers)."""
    return layers.Sequential([
        layers.Flatten(), layers.Dropout(0.2),
        layers.Dense(800, activation="relu"), layers.Dropout(0.5),
        layers.Dense(800, activation="relu"), layers.Dropout(0.5),
        layers.Dense(10),
    ])


def cnn() -> layers.Sequential:
    """conv 32 5x5 - pool 2 - conv 64 5x5 - pool 2 - dense 256 - dropout 0.5 - dense 10."""
    return layers.Sequential([
        layers.Conv2D(32, 5, activation="relu"), layers.MaxPool2D(2),
        layers.Conv2D(64, 5, activation="relu"), layers.MaxPool2D(2),
        layers.Flatten(), layers.Dense(256, activation="relu"),
        layers.Dropout(0.5), layers.Dense(10),
    ])


def lstm() -> layers.Sequential:
    """Sequential MNIST: each image read as 28 steps of 28 pixels by an LSTM of 128
    units, then dense 10 on the last hidden state."""
    return layers.Sequential([
        layers.Reshape((28, 28)), layers.LSTM(128), layers.Dense(10),
    ])


MODELS = {"mlp": mlp, "cnn": cnn, "lstm": lstm}


def build(name: str) -> layers.Sequential:
    """Build the model called ``name`` (``'mlp'``, ``'cnn'`` or ``'lstm'``)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]()
