"""The Lasagne-style functions: same rules as the classes; apply_momentum /
apply_nesterov_momentum against Lasagne's formulas."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
from nnthe import optim

import optim_testutil as U
from optim_testutil import f32


def _run_updates(build, steps=10):
    pr = U.problem()
    upd = build(pr["loss"], [pr["W"], pr["b"]])
    f = nnthe.function([pr["x"], pr["y"]], pr["loss"], updates=upd)
    for _ in range(steps):
        f(pr["X"], pr["Y"])
    return [pr["W"].get_value(), pr["b"].get_value()]


@pytest.mark.parametrize("fn,cls,kw", [
    (optim.sgd, optim.SGD, dict(learning_rate=0.1)),
    (optim.momentum, optim.Momentum, dict(learning_rate=0.05, momentum=0.8)),
    (optim.nesterov_momentum, optim.Nesterov, dict(learning_rate=0.05)),
    (optim.adagrad, optim.Adagrad, dict(learning_rate=0.1)),
    (optim.rmsprop, optim.RMSprop, dict(learning_rate=0.01)),
    (optim.adadelta, optim.Adadelta, dict()),
    (optim.adam, optim.Adam, dict(learning_rate=0.05, beta2=0.99)),
    (optim.adamw, optim.AdamW, dict(learning_rate=0.05)),
    (optim.adamax, optim.Adamax, dict(learning_rate=0.05)),
])
def test_functional_equals_class(fn, cls, kw):
    got = _run_updates(lambda loss, ps: fn(loss, ps, **kw))
    want = _run_updates(lambda loss, ps: cls(**kw).updates(loss, ps))
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_functional_unknown_keyword():
    pr = U.problem()
    with pytest.raises(TypeError, match="did you mean beta1"):
        optim.adam(pr["loss"], [pr["W"]], beta_1=0.9)


def _ref_lasagne(nesterov, lr, mu, steps=10):
    pr = U.problem()
    ps = [a.copy() for a in pr["init"]]
    vs = [np.zeros_like(a) for a in ps]
    for _ in range(steps):
        gs = pr["np_grads"](ps)
        for i, (p, g) in enumerate(zip(ps, gs)):
            u = p - lr * g
            if nesterov:
                x = mu * vs[i] + u - p
                vs[i] = x
                ps[i] = mu * x + u
            else:
                x = mu * vs[i] + u
                vs[i] = x - p
                ps[i] = x
    return ps


@pytest.mark.parametrize("nesterov", [False, True])
def test_apply_momentum_matches_lasagne(nesterov):
    apply = optim.apply_nesterov_momentum if nesterov else optim.apply_momentum
    got = _run_updates(lambda loss, ps: apply(optim.sgd(loss, ps, 0.1), ps, momentum=0.5))
    want = _ref_lasagne(nesterov, f32(0.1), 0.5)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10)


def test_lasagne_momentum_equals_torch_momentum_at_constant_lr():
    lasagne = _run_updates(lambda loss, ps: optim.apply_momentum(optim.sgd(loss, ps, 0.05)))
    torch_style = _run_updates(lambda loss, ps: optim.momentum(loss, ps, 0.05))
    # Only the rounding of momentum differs (0.9 here, float32(0.9) in the class).
    np.testing.assert_allclose(lasagne[0], torch_style[0], rtol=1e-5)


def test_apply_momentum_default_params_and_float32():
    pr = U.problem("float32")
    upd = optim.apply_momentum(optim.sgd(pr["loss"], [pr["W"], pr["b"]], 0.1))
    assert len(upd) == 4
    f = nnthe.function([pr["x"], pr["y"]], pr["loss"], updates=upd)
    f(pr["X"], pr["Y"])
    assert pr["W"].get_value().dtype == np.float32


def test_apply_momentum_errors():
    pr = U.problem()
    upd = optim.sgd(pr["loss"], [pr["W"], pr["b"]], 0.1)
    with pytest.raises(TypeError, match="dict"):
        optim.apply_momentum([pr["W"]])
    with pytest.raises(ValueError, match="in \\[0, 1\\)"):
        optim.apply_momentum(upd, momentum=1.5)
    other = nnthe.shared(np.zeros(2), name="other")
    with pytest.raises(ValueError, match="other has no entry"):
        optim.apply_nesterov_momentum(upd, [other])
    with pytest.raises(TypeError, match="momentum must be a number"):
        optim.apply_momentum(upd, momentum="0.9")
