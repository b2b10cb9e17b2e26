"""Each optimizer against a NumPy re-implementation of its formula (10 steps of least
squares in float64), a float32 run that stays float32, and torch.optim when present."""
from __future__ import annotations

import numpy as np
import pytest

from nnthe import optim

import optim_testutil as U
from optim_testutil import f32

# name -> (optimizer factory, reference rule, reference hyper-parameters,
#          torch factory (params -> torch optimizer))
CASES = {
    "SGD": (lambda: optim.SGD(0.1), U.ref_sgd, dict(lr=f32(0.1)),
            lambda tp, ps: tp.SGD(ps, lr=0.1)),
    "SGD-wd": (lambda: optim.SGD(0.1, weight_decay=0.05), U.ref_sgd,
               dict(lr=f32(0.1), weight_decay=f32(0.05)),
               lambda tp, ps: tp.SGD(ps, lr=0.1, weight_decay=0.05)),
    "Momentum": (lambda: optim.Momentum(0.05), U.ref_momentum,
                 dict(lr=f32(0.05), momentum=f32(0.9)),
                 lambda tp, ps: tp.SGD(ps, lr=0.05, momentum=0.9)),
    "Momentum-wd": (lambda: optim.Momentum(0.05, momentum=0.5, weight_decay=0.1), U.ref_momentum,
                    dict(lr=f32(0.05), momentum=0.5, weight_decay=f32(0.1)),
                    lambda tp, ps: tp.SGD(ps, lr=0.05, momentum=0.5, weight_decay=0.1)),
    "Nesterov": (lambda: optim.Nesterov(0.05), U.ref_nesterov,
                 dict(lr=f32(0.05), momentum=f32(0.9)),
                 lambda tp, ps: tp.SGD(ps, lr=0.05, momentum=0.9, nesterov=True)),
    "Adagrad": (lambda: optim.Adagrad(0.1), U.ref_adagrad, dict(lr=f32(0.1)),
                lambda tp, ps: tp.Adagrad(ps, lr=0.1)),
    "Adagrad-decay": (lambda: optim.Adagrad(0.1, lr_decay=0.05, initial_accumulator_value=0.5),
                      U.ref_adagrad, dict(lr=f32(0.1), lr_decay=f32(0.05), init_acc=0.5),
                      lambda tp, ps: tp.Adagrad(ps, lr=0.1, lr_decay=0.05,
                                                initial_accumulator_value=0.5)),
    "RMSprop": (lambda: optim.RMSprop(0.01), U.ref_rmsprop, dict(lr=f32(0.01)),
                lambda tp, ps: tp.RMSprop(ps, lr=0.01)),
    "RMSprop-centered-momentum": (
        lambda: optim.RMSprop(0.01, momentum=0.5, centered=True, weight_decay=0.01),
        U.ref_rmsprop, dict(lr=f32(0.01), momentum=0.5, centered=True, weight_decay=f32(0.01)),
        lambda tp, ps: tp.RMSprop(ps, lr=0.01, momentum=0.5, centered=True, weight_decay=0.01)),
    "Adadelta": (lambda: optim.Adadelta(), U.ref_adadelta, dict(lr=1.0),
                 lambda tp, ps: tp.Adadelta(ps)),
    "Adam": (lambda: optim.Adam(0.05), U.ref_adam, dict(lr=f32(0.05)),
             lambda tp, ps: tp.Adam(ps, lr=0.05)),
    "Adam-wd": (lambda: optim.Adam(0.05, beta1=0.8, beta2=0.99, weight_decay=0.1), U.ref_adam,
                dict(lr=f32(0.05), beta1=f32(0.8), beta2=f32(0.99), weight_decay=f32(0.1)),
                lambda tp, ps: tp.Adam(ps, lr=0.05, betas=(0.8, 0.99), weight_decay=0.1)),
    "AdamW": (lambda: optim.AdamW(0.05, weight_decay=0.1), U.ref_adam,
              dict(lr=f32(0.05), weight_decay=f32(0.1), decoupled=True),
              lambda tp, ps: tp.AdamW(ps, lr=0.05, weight_decay=0.1)),
    "AdamW-default": (lambda: optim.AdamW(0.05), U.ref_adam,
                      dict(lr=f32(0.05), weight_decay=f32(0.01), decoupled=True),
                      lambda tp, ps: tp.AdamW(ps, lr=0.05)),
    "AMSGrad": (lambda: optim.AMSGrad(0.05), U.ref_adam, dict(lr=f32(0.05), amsgrad=True),
                lambda tp, ps: tp.Adam(ps, lr=0.05, amsgrad=True)),
    "Adam-amsgrad": (lambda: optim.Adam(0.05, amsgrad=True), U.ref_adam,
                     dict(lr=f32(0.05), amsgrad=True),
                     lambda tp, ps: tp.Adam(ps, lr=0.05, amsgrad=True)),
    "AdamW-amsgrad": (lambda: optim.AdamW(0.05, amsgrad=True), U.ref_adam,
                      dict(lr=f32(0.05), weight_decay=f32(0.01), decoupled=True, amsgrad=True),
                      lambda tp, ps: tp.AdamW(ps, lr=0.05, amsgrad=True)),
    "Adamax": (lambda: optim.Adamax(), U.ref_adamax, dict(lr=f32(2e-3)),
               lambda tp, ps: tp.Adamax(ps)),
    "Adamax-wd": (lambda: optim.Adamax(0.05, weight_decay=0.1), U.ref_adamax,
                  dict(lr=f32(0.05), weight_decay=f32(0.1)),
                  lambda tp, ps: tp.Adamax(ps, lr=0.05, weight_decay=0.1)),
}


def _assert_traj(got, want, rtol, atol=0.0):
    for step, (g, w) in enumerate(zip(got, want)):
        for k, (a, b) in enumerate(zip(g, w)):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol,
                                       err_msg=f"step {step + 1}, param {k}")


@pytest.mark.parametrize("name", list(CASES))
def test_matches_numpy_reference_float64(name):
    make, rule, hp, _ = CASES[name]
    got, _, _ = U.run_nnthe(make, "float64")
    want = U.run_reference(rule, hp)
    _assert_traj(got, want, rtol=1e-8, atol=1e-10)
    # The trajectory actually moved (a rule that does nothing would also "match").
    assert not np.allclose(got[-1][0], U.problem()["init"][0])


@pytest.mark.parametrize("name", list(CASES))
def test_float32_stays_float32(name):
    make, rule, hp, _ = CASES[name]
    got, opt, pr = U.run_nnthe(make, "float32")
    for step in got:
        assert [a.dtype for a in step] == [np.float32, np.float32]
    for var in opt.state.values():
        assert var.get_value().dtype in (np.float32, np.int64)
    want = U.run_reference(rule, hp)
    _assert_traj(got, want, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    make, _, _, make_torch = CASES[name]
    got, _, _ = U.run_nnthe(make, "float64")
    pr = U.problem("float64")
    ps = [torch.tensor(a, requires_grad=True) for a in pr["init"]]
    X, Y = torch.tensor(pr["X"]), torch.tensor(pr["Y"])
    topt = make_torch(torch.optim, ps)
    want = []
    for _ in range(10):
        topt.zero_grad()
        loss = ((X @ ps[0] + ps[1] - Y) ** 2).mean()
        loss.backward()
        topt.step()
        want.append([p.detach().numpy().copy() for p in ps])
    _assert_traj(got, want, rtol=1e-4, atol=1e-7)


def test_step_counter_is_updated():
    _, opt, _ = U.run_nnthe(lambda: optim.Adam(0.01), steps=3)
    step = opt.state["step"]
    assert step.get_value().dtype == np.int64 and int(step.get_value()) == 3


def test_float32_hyperparams_with_float64_params_do_not_warn():
    # pytest turns UpcastWarning into an error; the float64 cases above already build
    # graphs with float32 hyper-parameters, this makes the intent explicit.
    opt = optim.Adam(0.01)
    assert opt.learning_rate.type.dtype == "float32"
    U.run_nnthe(lambda: opt, "float64", steps=1)


@pytest.mark.parametrize("clip", [dict(clip_norm=0.1), dict(clip_value=0.05),
                                  dict(clip_norm=0.1, clip_value=0.05)])
def test_clip_arguments(clip):
    got, _, _ = U.run_nnthe(lambda: optim.SGD(0.1, **clip))
    pr = U.problem()
    ps = [a.copy() for a in pr["init"]]
    for _ in range(10):
        gs = pr["np_grads"](ps)
        if "clip_value" in clip:
            gs = [np.clip(g, -0.05, 0.05) for g in gs]
        if "clip_norm" in clip:
            n = np.sqrt(sum((g ** 2).sum() for g in gs))
            gs = [g * min(n, 0.1) / (n + 1e-7) for g in gs]
        ps = [p - f32(0.1) * g for p, g in zip(ps, gs)]
    np.testing.assert_allclose(got[-1][0], ps[0], rtol=1e-10)
    np.testing.assert_allclose(got[-1][1], ps[1], rtol=1e-10)


def test_clip_norm_matches_torch_clip_grad_norm():
    torch = pytest.importorskip("torch")
    got, _, _ = U.run_nnthe(lambda: optim.Momentum(0.1, clip_norm=0.2))
    pr = U.problem("float64")
    ps = [torch.tensor(a, requires_grad=True) for a in pr["init"]]
    X, Y = torch.tensor(pr["X"]), torch.tensor(pr["Y"])
    topt = torch.optim.SGD(ps, lr=0.1, momentum=0.9)
    for _ in range(10):
        topt.zero_grad()
        ((X @ ps[0] + ps[1] - Y) ** 2).mean().backward()
        torch.nn.utils.clip_grad_norm_(ps, 0.2)
        topt.step()
    np.testing.assert_allclose(got[-1][0], ps[0].detach().numpy(), rtol=1e-4)


# -- float16 parameters (issue 13, item 11) ----------------------------------------------
# In float16, epsilon = 1e-8 is 0 and g**2 underflows below |g| = 2.4e-4: torch.optim on
# float16 parameters gives inf/NaN for such gradients. nnthe computes the update of a
# float16 parameter in float32 from float32 state and rounds the parameter to float16
# (the mixed-precision recipe). Reference: torch on a float32 copy of the parameter
# rounded to float16 after every step, with the float16 gradient.

_G16 = np.array([[1e-3, 1e-5, 0.0, 1.0, -2.0, 3e-4, -6e-8, 50.0],
                 [2e-3, -1e-5, 0.0, 0.5, -1.0, 1e-4, 0.0, -30.0],
                 [1e-3, 1e-5, 0.0, 1.0, 2.0, -3e-4, 6e-8, 10.0]], dtype=np.float16)


@pytest.mark.parametrize("name", list(CASES))
def test_float16_params_match_torch_in_float32(name):
    import nnthe
    import nnthe.tensor as T

    make, _, _, make_torch = CASES[name]
    w0 = np.linspace(-1, 1, 8).astype(np.float16)
    W = nnthe.shared(w0.copy(), name="W")
    G = T.tensor("float16", shape=(8,), name="g")
    opt = make()
    f = nnthe.function([G], [], updates=opt.updates([G], [W]))
    got = []
    for g in _G16:
        f(g)
        got.append(W.get_value())
    assert all(v.dtype == np.float16 and np.all(np.isfinite(v)) for v in got)
    assert [v.get_value().dtype for k, v in opt.state.items() if k != "step"] == \
        [np.float32] * (len(opt.state) - ("step" in opt.state))
    assert not np.array_equal(got[-1], w0)
    torch = pytest.importorskip("torch")
    q = torch.tensor(w0.astype(np.float32), requires_grad=True)
    topt = make_torch(torch.optim, [q])
    for step, g in enumerate(_G16):
        q.grad = torch.from_numpy(g.astype(np.float32))
        topt.step()
        with torch.no_grad():
            q.copy_(q.half().float())
        np.testing.assert_allclose(got[step].astype(np.float32), q.detach().numpy(),
                                   rtol=2e-3, atol=1e-4, err_msg=f"step {step + 1}")


def test_float16_adam_one_step_is_finite_from_a_loss():
    # The case: a float16 model trained by Adam, every parameter NaN after a step.
    import nnthe
    import nnthe.tensor as T

    rng = np.random.default_rng(0)
    W = nnthe.shared(rng.standard_normal((4, 3)).astype(np.float16), name="W")
    x = T.tensor("float16", shape=(None, 4), name="x")
    loss = (T.dot(x, W) ** 2).mean()
    f = nnthe.function([x], loss, updates=optim.Adam(1e-3).updates(loss, [W]))
    w0 = W.get_value()
    f(rng.standard_normal((16, 4)).astype(np.float16) * 1e-3)
    w1 = W.get_value()
    assert w1.dtype == np.float16 and np.all(np.isfinite(w1))
    assert 0 < np.abs(w1.astype(np.float32) - w0).max() < 2e-3  # one step of about lr


@pytest.mark.parametrize("clip", [dict(clip_norm=1.0), dict(clip_value=1.0)])
def test_float16_clipping_of_large_gradients(clip):
    # Gradients of 300: their float16 squares (90,000) overflow; the norm is float32.
    import nnthe
    import nnthe.tensor as T

    W = nnthe.shared(np.zeros(4, np.float16), name="W")
    G = T.tensor("float16", shape=(4,), name="g")
    f = nnthe.function([G], [], updates=optim.SGD(0.1, **clip).updates([G], [W]))
    f(np.array([300, -300, 300, 0], np.float16))
    w = W.get_value().astype(np.float64)
    want = -0.1 * (np.array([1, -1, 1, 0]) / np.sqrt(3) if "clip_norm" in clip
                   else np.array([1, -1, 1, 0]))
    np.testing.assert_allclose(w, want, rtol=2e-3)


def test_float16_norm_constraint():
    import nnthe
    import nnthe.tensor as T

    w = np.full((3, 2), 300, np.float16)
    Wv = T.tensor("float16", shape=(3, 2), name="w")
    out = nnthe.function([Wv], optim.norm_constraint(Wv, 1.0))(w)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.astype(np.float64), np.full((3, 2), 1 / np.sqrt(3)), rtol=2e-3)
