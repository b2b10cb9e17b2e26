"""Helpers for the layer tests: run a layer, check its gradients in float64."""
from __future__ import annotations

import numpy as np

import nnthe
import nnthe.tensor as T
from nnthe.gradient import verify_grad


def sym(shape, dtype="float64", name="x"):
    return T.tensor(dtype, shape=shape, name=name)


def run(layer, value, training=False, static_shape=None):
    """Apply ``layer`` to a symbolic input shaped like ``value`` (first dim unknown
    unless ``static_shape``) and evaluate it."""
    value = np.asarray(value)
    shape = static_shape if static_shape is not None else (None,) + value.shape[1:]
    x = sym(shape, value.dtype.name)
    out = layer(x, training=training)
    return nnthe.function([x], out)(value), out


def check_grads(layer, value, training=False, rng=0, eps=1e-6, tol=1e-5):
    """Check the gradients of a float64 layer with respect to its input (verify_grad)
    and each trainable parameter (central differences on the shared value)."""
    value = np.asarray(value, dtype="float64")
    verify_grad(lambda x: layer(x, training=training), [value], rng=rng)
    x = sym((None,) + value.shape[1:])
    out = layer(x, training=training)
    proj = np.random.default_rng(rng).uniform(-1, 1, size=nnthe.function([x], out)(value).shape)
    cost = (out * proj).sum()
    params = layer.trainable_params
    grads = nnthe.function([x], nnthe.grad(cost, params))(value)
    f_cost = nnthe.function([x], cost)
    for p, g in zip(params, grads):
        base = p.get_value()
        direction = np.random.default_rng(rng + 1).uniform(-1, 1, size=base.shape)
        p.set_value(base + eps * direction)
        plus = float(f_cost(value))
        p.set_value(base - eps * direction)
        minus = float(f_cost(value))
        p.set_value(base)
        numeric = (plus - minus) / (2 * eps)
        analytic = float(np.sum(g * direction))
        assert abs(numeric - analytic) <= tol + tol * abs(numeric), (p.name, numeric, analytic)
