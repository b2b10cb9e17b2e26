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
