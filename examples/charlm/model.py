"""The character-level language model of the example and its data, shared by train.py
and sample.py.

Text is read as bytes (a vocabulary of 256, so any file works and nothing needs to be
stored besides the weights); the model is Embedding -> LSTM (return_sequences) -> Dense
over the 256 bytes at every step.
"""
from __future__ import annotations

import math
import sysconfig
from pathlib import Path

import numpy as np

import nnthe.tensor as T
from nnthe import layers, losses

VOCAB = 256
LN2 = math.log(2.0)


def build(units: int = 256, embed: int = 64) -> layers.Sequential:
    """Embedding(256, embed) -> LSTM(units, return_sequences) -> Dense(256) per step."""
    return layers.Sequential([
        layers.Embedding(VOCAB, embed),
        layers.LSTM(units, return_sequences=True),
        layers.Dense(VOCAB, num_leading_axes=2),
    ])


def loss(outputs, targets):
    """Mean cross-entropy (nats) of the next byte at every step."""
    flat = T.reshape(outputs, (-1, VOCAB))
    return losses.softmax_cross_entropy(flat, targets.flatten()).mean()


def bits_per_char(outputs, targets):
    """The same cross-entropy in bits per character."""
    return loss(outputs, targets) / LN2


def text_files(where: str | None) -> list[Path]:
    """The files of ``where`` (a file, or every .py/.txt/.md file below a folder); by
    default the Python standard library's own sources (present wherever Python is)."""
    root = Path(where) if where else Path(sysconfig.get_paths()["stdlib"])
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise SystemExit(f"--text {root}: no such file or folder")
    files = sorted(p for p in root.rglob("*") if p.suffix in (".py", ".txt", ".md") and p.is_file()
                   and "site-packages" not in p.parts)
    if not files:
        raise SystemExit(f"--text {root}: no .py, .txt or .md files found")
    return files


def load_corpus(where: str | None, max_bytes: int, val_every: int = 10) -> tuple[bytes, bytes]:
    """(train, validation) bytes, split by file: every ``val_every``-th file validates (a
    single file is split 90/10 instead). Each part is cut at ``max_bytes``."""
    files = text_files(where)
    if len(files) == 1:
        data = files[0].read_bytes()
        cut = int(len(data) * 0.9)
        return data[:cut][:max_bytes], data[cut:][:max_bytes // 9 + 1]
    train, val = bytearray(), bytearray()
    for k, p in enumerate(files):
        part = val if k % val_every == val_every - 1 else train
        limit = max_bytes // 9 + 1 if part is val else max_bytes
        if len(part) < limit:
            part += p.read_bytes()[:limit - len(part)]
        if len(train) >= max_bytes and len(val) >= max_bytes // 9:
            break
    return bytes(train), bytes(val)


def windows(data: bytes, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows: inputs ``(n, seq_len)`` and next-byte targets."""
    arr = np.frombuffer(data, dtype=np.uint8)
    n = (len(arr) - 1) // seq_len
    if n < 1:
        raise SystemExit(f"the text has {len(arr)} bytes, fewer than one window of {seq_len + 1}")
    X = arr[:n * seq_len].reshape(n, seq_len).astype(np.int32)
    y = arr[1:n * seq_len + 1].reshape(n, seq_len).astype(np.int32)
    return X, y


__all__ = ["build", "loss", "bits_per_char", "load_corpus", "windows", "text_files", "VOCAB"]
