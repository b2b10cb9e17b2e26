"""A least-squares problem and NumPy re-implementations of the update rules (the test
oracle), shared by the optimizer tests (imported as a plain module)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

import nnthe
import nnthe.tensor as T


def f32(v: float) -> float:
    """``v`` rounded to float32: the hyper-parameters are float32 shared variables."""
    return float(np.float32(v))


def problem(dtype: str = "float64", seed: int = 0, names: tuple = ("0/W", "0/b")):
    """Shared params W (3, 2), b (2,), data X (8, 3), Y (8, 2), the symbolic loss, and a
    NumPy gradient function."""
    rng = np.random.default_rng(seed)
    W0 = rng.standard_normal((3, 2))
    b0 = rng.standard_normal(2) * 0.1
    X = rng.standard_normal((8, 3))
    Y = rng.standard_normal((8, 2))
    W = nnthe.shared(W0.astype(dtype), name=names[0])
    b = nnthe.shared(b0.astype(dtype), name=names[1])
    x = T.tensor(dtype, shape=(None, 3), name="x")
    y = T.tensor(dtype, shape=(None, 2), name="y")
    loss = ((T.dot(x, W) + b - y) ** 2).mean()

    def np_grads(ps: list[np.ndarray]) -> list[np.ndarray]:
        r = X @ ps[0] + ps[1] - Y
        scale = 2.0 / r.size
        return [scale * X.T @ r, scale * r.sum(axis=0)]

    return dict(W=W, b=b, x=x, y=y, loss=loss, X=X.astype(dtype), Y=Y.astype(dtype),
                init=[W0, b0], np_grads=np_grads)


def run_nnthe(make_opt: Callable[[], Any], dtype: str = "float64", steps: int = 10,
              names: tuple = ("0/W", "0/b")):
    """Run ``steps`` compiled steps; return the list of [W, b] after each step and the opt."""
    pr = problem(dtype, names=names)
    opt = make_opt()
    f = nnthe.function([pr["x"], pr["y"]], pr["loss"],
                       updates=opt.updates(pr["loss"], [pr["W"], pr["b"]]))
    traj = []
    for _ in range(steps):
        f(pr["X"], pr["Y"])
        traj.append([pr["W"].get_value(), pr["b"].get_value()])
    return traj, opt, pr


def run_reference(rule: Callable, hp: dict, steps: int = 10) -> list[list[np.ndarray]]:
    """Run the NumPy rule ``rule(p, g, state, t, hp) -> new p`` on the same problem."""
    pr = problem("float64")
    ps = [a.copy() for a in pr["init"]]
    states: list[dict] = [{} for _ in ps]
    traj = []
    for t in range(1, steps + 1):
        gs = pr["np_grads"](ps)
        ps = [rule(p, g, s, t, hp) for p, g, s in zip(ps, gs, states)]
        traj.append([p.copy() for p in ps])
    return traj


# -- the rules, written from the papers / torch.optim docs -------------------------------

def _zeros(s: dict, key: str, like: np.ndarray, fill: float = 0.0) -> np.ndarray:
    if key not in s:
        s[key] = np.full_like(like, fill)
    return s[key]


def _decay(p, g, hp):
    return g + hp.get("weight_decay", 0.0) * p


def ref_sgd(p, g, s, t, hp):
    return p - hp["lr"] * _decay(p, g, hp)


def ref_momentum(p, g, s, t, hp, nesterov=False):
    g = _decay(p, g, hp)
    v = hp["momentum"] * _zeros(s, "v", p) + g
    s["v"] = v
    return p - hp["lr"] * ((g + hp["momentum"] * v) if nesterov else v)


def ref_nesterov(p, g, s, t, hp):
    return ref_momentum(p, g, s, t, hp, nesterov=True)


def ref_adagrad(p, g, s, t, hp):
    g = _decay(p, g, hp)
    acc = _zeros(s, "sum", p, hp.get("init_acc", 0.0)) + g * g
    s["sum"] = acc
    clr = hp["lr"] / (1 + (t - 1) * hp.get("lr_decay", 0.0))
    return p - clr * g / (np.sqrt(acc) + hp.get("eps", 1e-10))


def ref_rmsprop(p, g, s, t, hp):
    g = _decay(p, g, hp)
    a = hp.get("alpha", f32(0.99))
    sq = a * _zeros(s, "sq", p) + (1 - a) * g * g
    s["sq"] = sq
    if hp.get("centered"):
        ga = a * _zeros(s, "ga", p) + (1 - a) * g
        s["ga"] = ga
        avg = np.sqrt(sq - ga * ga) + hp.get("eps", 1e-8)
    else:
        avg = np.sqrt(sq) + hp.get("eps", 1e-8)
    if hp.get("momentum", 0.0) > 0:
        buf = hp["momentum"] * _zeros(s, "buf", p) + g / avg
        s["buf"] = buf
        return p - hp["lr"] * buf
    return p - hp["lr"] * g / avg


def ref_adadelta(p, g, s, t, hp):
    g = _decay(p, g, hp)
    rho, eps = hp.get("rho", f32(0.9)), hp.get("eps", 1e-6)
    sq = rho * _zeros(s, "sq", p) + (1 - rho) * g * g
    delta = np.sqrt(_zeros(s, "acc", p) + eps) / np.sqrt(sq + eps) * g
    s["sq"] = sq
    s["acc"] = rho * s["acc"] + (1 - rho) * delta * delta
    return p - hp["lr"] * delta


def ref_adam(p, g, s, t, hp):
    b1, b2 = hp.get("beta1", f32(0.9)), hp.get("beta2", f32(0.999))
    eps, lr = hp.get("eps", 1e-8), hp["lr"]
    if hp.get("decoupled"):
        p = p * (1 - lr * hp["weight_decay"])
    else:
        g = _decay(p, g, hp)
    m = b1 * _zeros(s, "m", p) + (1 - b1) * g
    v = b2 * _zeros(s, "v", p) + (1 - b2) * g * g
    s["m"], s["v"] = m, v
    if hp.get("amsgrad"):
        s["vmax"] = np.maximum(_zeros(s, "vmax", p), v)
        v = s["vmax"]
    mhat = m / (1 - b1 ** t)
    vhat = v / (1 - b2 ** t)
    return p - lr * mhat / (np.sqrt(vhat) + eps)


def ref_adamax(p, g, s, t, hp):
    g = _decay(p, g, hp)
    b1, b2 = hp.get("beta1", f32(0.9)), hp.get("beta2", f32(0.999))
    m = b1 * _zeros(s, "m", p) + (1 - b1) * g
    u = np.maximum(b2 * _zeros(s, "u", p), np.abs(g) + hp.get("eps", 1e-8))
    s["m"], s["u"] = m, u
    return p - hp["lr"] / (1 - b1 ** t) * m / u
