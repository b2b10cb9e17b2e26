"""Train, save, or resume-and-train; prints each step's loss as hex bytes (bit-exact compare).

Usage: python resume_script.py {standin|real} {full|first|second} PATH N M SEED
  full:   train N + M steps, print all losses
  first:  train N steps, print losses, save a checkpoint to PATH
  second: build afresh (SEED should differ), load PATH, train M more steps, print losses
"""
from __future__ import annotations

import sys
from collections import OrderedDict

import numpy as np

import nnthe
import nnthe.tensor as T
from nnthe.checkpoint import load_checkpoint, save_checkpoint

BATCH, D_IN, D_OUT = 16, 8, 4
DATA = np.random.default_rng(123).standard_normal((64, BATCH, D_IN)).astype("float32")
LABELS = np.random.default_rng(321).integers(0, D_OUT, (64, BATCH)).astype("int32")


def pcg_mask(state_var, shape):
    """Dropout mask from a uint64[4] PCG64 state kept in a shared variable (the stand-in RNG)."""
    s = [int(x) for x in state_var.get_value()]
    bg = np.random.PCG64()
    bg.state = {"bit_generator": "PCG64", "state": {"state": s[0] << 64 | s[1], "inc": s[2] << 64 | s[3] | 1},
                "has_uint32": 0, "uinteger": 0}
    mask = (np.random.Generator(bg).random(shape) < 0.5).astype("float32") * 2
    st = bg.state["state"]
    new = [st["state"] >> 64, st["state"] & (2**64 - 1), st["inc"] >> 64, st["inc"] & (2**64 - 1)]
    state_var.set_value(np.array(new, dtype="uint64"))
    return mask


class StandIn:
    """A model, an SGD-momentum optimizer and an RNG from plain shared variables."""

    def __init__(self, seed):
        r = np.random.default_rng(seed)
        self.W = nnthe.shared(r.standard_normal((D_IN, D_OUT)).astype("float32"), name="W")
        self.b = nnthe.shared(np.zeros(D_OUT, "float32"), name="b")
        self.vW = nnthe.shared(np.zeros((D_IN, D_OUT), "float32"))
        self.vb = nnthe.shared(np.zeros(D_OUT, "float32"))
        self.step = nnthe.shared(np.int64(0))
        self.lr = nnthe.shared(np.float32(0.05))
        self.rng = nnthe.shared(r.integers(0, 2**63, 4, dtype="uint64"))
        X, mask = T.matrix("X", shape=(BATCH, D_IN)), T.matrix("mask", shape=(BATCH, D_OUT))
        y = T.ivector("y")
        logits = (T.dot(X, self.W) + self.b) * mask
        loss = nnthe.losses.softmax_cross_entropy(logits, y).mean()
        gW, gb = nnthe.grad(loss, [self.W, self.b])
        nvW, nvb = 0.9 * self.vW - self.lr * gW, 0.9 * self.vb - self.lr * gb
        self.f = nnthe.function([X, y, mask], loss, updates=OrderedDict(
            [(self.vW, nvW), (self.vb, nvb), (self.W, self.W + nvW), (self.b, self.b + nvb),
             (self.step, self.step + 1)]))
        self.objects = dict(params={"W": self.W, "b": self.b},
                            optimizer=self, rng={"dropout": self.rng})

    state = property(lambda self: OrderedDict(vW=self.vW, vb=self.vb, step=self.step))
    hyperparams = property(lambda self: OrderedDict(learning_rate=self.lr))

    def train_step(self, i):
        return self.f(DATA[i], LABELS[i], pcg_mask(self.rng, (BATCH, D_OUT)))


class Real:
    """Sequential(Dense, Dropout, BatchNorm, Dense) with Adam."""

    def __init__(self, seed):
        from nnthe import layers, losses, optim

        nnthe.random.seed(seed)
        self.model = layers.Sequential([layers.Dense(16, activation="relu"), layers.Dropout(0.5),
                                        layers.BatchNorm(), layers.Dense(D_OUT)])
        X, y = T.matrix("X", shape=(None, D_IN)), T.ivector("y")
        loss = losses.softmax_cross_entropy(self.model(X, training=True), y).mean()
        self.opt = optim.Adam(learning_rate=1e-2)
        self.f = nnthe.function([X, y], loss, updates=self.opt.updates(loss, self.model.trainable_params))
        self.objects = dict(model=self.model, optimizer=self.opt)

    def train_step(self, i):
        return self.f(DATA[i], LABELS[i])


def main():
    kind, mode, path, n, m, seed = sys.argv[1:7]
    n, m, seed = int(n), int(m), int(seed)
    run = (StandIn if kind == "standin" else Real)(seed)
    start, stop = 0, n
    if mode == "full":
        stop = n + m
    elif mode == "second":
        start = load_checkpoint(path, **run.objects)["step"]
        stop = start + m
    for i in range(start, stop):
        print(np.asarray(run.train_step(i)).tobytes().hex(), flush=True)
    if mode == "first":
        save_checkpoint(path, meta={"step": stop}, **run.objects)


if __name__ == "__main__":
    main()
