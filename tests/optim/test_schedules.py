"""Learning-rate schedules against their closed forms and torch.optim.lr_scheduler."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe import optim

import optim_testutil as U


def _lrs(sched, n):
    """The rate after creation and after each of ``n`` steps, checking the variable."""
    out = [sched.get_lr()]
    for _ in range(n):
        out.append(sched.step())
        assert out[-1] == sched.get_lr()
        var = sched.variable
        assert var.get_value() == np.asarray(out[-1], dtype=var.type.dtype)
    return out


def test_step_lr():
    s = optim.StepLR(optim.SGD(1.0), step_size=3, gamma=0.5)
    assert _lrs(s, 7) == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_multistep_lr():
    s = optim.MultiStepLR(optim.SGD(1.0), milestones=[2, 5], gamma=0.1)
    np.testing.assert_allclose(_lrs(s, 6), [1, 1, .1, .1, .1, .01, .01], rtol=1e-12)


def test_exponential_lr():
    s = optim.ExponentialLR(optim.SGD(0.5), gamma=0.9)
    np.testing.assert_allclose(_lrs(s, 5), [f * 0.9 ** k for k, f in enumerate([U.f32(0.5)] * 6)])


def test_cosine_annealing_lr():
    base = U.f32(0.1)
    s = optim.CosineAnnealingLR(optim.SGD(0.1), T_max=10, eta_min=0.001)
    want = [0.001 + (base - 0.001) * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(13)]
    np.testing.assert_allclose(_lrs(s, 12), want, rtol=1e-12)
    assert abs(s.lr_at(10) - 0.001) < 1e-15


def test_cosine_warm_restarts():
    s = optim.CosineAnnealingWarmRestarts(optim.SGD(1.0), T_0=3, T_mult=2)
    # periods 3, 6, 12 start at epochs 0, 3, 9
    want = []
    for t in range(21):
        cur, ti = (t, 3) if t < 3 else ((t - 3, 6) if t < 9 else (t - 9, 12))
        want.append((1 + math.cos(math.pi * cur / ti)) / 2)
    np.testing.assert_allclose(_lrs(s, 20), want, rtol=1e-12, atol=1e-15)
    assert s.step() == 1.0           # the period of 24 starts at epoch 21
    s1 = optim.CosineAnnealingWarmRestarts(optim.SGD(1.0), T_0=4, eta_min=0.1)
    assert s1.lr_at(4) == s1.lr_at(0) == 1.0 and s1.lr_at(6) == s1.lr_at(2)


def test_linear_warmup_then_schedule():
    opt = optim.SGD(1.0)
    s = optim.LinearWarmup(optim.StepLR(opt, step_size=2, gamma=0.5), warmup_steps=4)
    assert _lrs(s, 8) == [0, 0.25, 0.5, 0.75, 1, 1, 0.5, 0.5, 0.25]
    assert s.schedule.last_epoch == 4
    s2 = optim.LinearWarmup(optim.ExponentialLR(optim.SGD(1.0), 0.5), 2, start_factor=0.5)
    assert _lrs(s2, 3) == [0.5, 0.75, 1.0, 0.5]


def test_one_cycle_closed_form():
    opt = optim.Momentum(0.5)
    s = optim.OneCycleLR(opt, max_lr=1.0, total_steps=11, pct_start=0.3, anneal_strategy="linear",
                         div_factor=10, final_div_factor=10)
    lrs = _lrs(s, 10)
    # phase 1 ends at step 0.3 * 11 - 1 = 2.3: 0.1 -> 1; phase 2 to step 10: 1 -> 0.01
    assert lrs[0] == pytest.approx(0.1)
    assert lrs[2] == pytest.approx(0.1 + 0.9 * 2 / 2.3)
    assert lrs[10] == pytest.approx(0.01)
    assert max(lrs) <= 1.0
    assert s.last_momentum == pytest.approx(0.95) and opt.momentum.get_value() == np.float32(0.95)
    with pytest.raises(ValueError, match="total_steps is 11"):
        s.step()


def test_one_cycle_cycles_adam_beta1_and_three_phase():
    opt = optim.Adam(1e-3)
    s = optim.OneCycleLR(opt, max_lr=0.01, epochs=2, steps_per_epoch=10, three_phase=True)
    lrs = _lrs(s, 19)
    assert s.total_steps == 20
    assert lrs[0] == pytest.approx(0.01 / 25) and lrs[-1] == pytest.approx(0.01 / 25 / 1e4)
    assert float(opt.beta1.get_value()) == pytest.approx(0.95, rel=1e-6)


def test_reduce_on_plateau():
    opt = optim.SGD(1.0)
    s = optim.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1, min_lr=0.2)
    lrs = [s.step(m) for m in [5, 4, 4, 4, 4, 4, 4, 4, 4, 4]]
    # bad epochs: 3rd (1), 4th (2 > patience: halve, cooldown 1), 5th (cooldown), ...
    assert lrs == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2]
    assert opt.lr == U.f32(0.2)
    smax = optim.ReduceLROnPlateau(optim.SGD(1.0), mode="max", patience=0, threshold=0.1,
                                   threshold_mode="abs")
    assert [smax.step(m) for m in [1.0, 1.05, 1.2]] == [1.0, pytest.approx(0.1), pytest.approx(0.1)]


def test_schedule_on_a_shared_variable_and_compiled_effect():
    pr = U.problem()
    lr = nnthe.shared(np.float32(0.1), name="lr")
    opt = optim.SGD(lr)
    f = nnthe.function([pr["x"], pr["y"]], pr["loss"], updates=opt.updates(pr["loss"], [pr["W"], pr["b"]]))
    sched = optim.StepLR(lr, step_size=1, gamma=0.0)
    sched.step()
    assert opt.lr == 0.0
    before = pr["W"].get_value()
    f(pr["X"], pr["Y"])
    np.testing.assert_array_equal(pr["W"].get_value(), before)


@pytest.mark.parametrize("make", [
    lambda o: optim.StepLR(o, 2, 0.5),
    lambda o: optim.MultiStepLR(o, [1, 4]),
    lambda o: optim.CosineAnnealingWarmRestarts(o, 2, 2),
    lambda o: optim.LinearWarmup(optim.CosineAnnealingLR(o, 6), 3),
    lambda o: optim.OneCycleLR(o, 1.0, 20),
    lambda o: optim.ReduceLROnPlateau(o, patience=0),
])
def test_state_dict_roundtrip(make):
    metrics = [5.0, 4.0, 4.0, 4.5, 3.0, 3.0, 3.5, 2.0, 2.0]

    def advance(s, steps):
        for k in steps:
            s.step(metrics[k]) if isinstance(s, optim.ReduceLROnPlateau) else s.step()

    a = make(optim.Momentum(0.3))
    advance(a, range(5))
    state = a.state_dict()
    json.dumps(state)                    # numbers, strings and lists only
    opt_b = optim.Momentum(0.3)
    b = make(opt_b)
    b.load_state_dict(state)
    assert b.get_lr() == a.get_lr() and opt_b.lr == a.variable.get_value()
    advance(a, range(5, 9))
    advance(b, range(5, 9))
    assert b.get_lr() == a.get_lr()


def test_load_state_dict_of_other_schedule_raises():
    a = optim.StepLR(optim.SGD(1.0), 2)
    with pytest.raises(ValueError, match="expected keys"):
        optim.ExponentialLR(optim.SGD(1.0), 0.5).load_state_dict(a.state_dict())


@pytest.mark.parametrize("make,exc,match", [
    (lambda: optim.StepLR(optim.SGD(1.0), 0), ValueError, "step_size must be in"),
    (lambda: optim.StepLR(optim.SGD(1.0), 2.5), TypeError, "step_size must be an integer"),
    (lambda: optim.MultiStepLR(optim.SGD(1.0), [5, 2]), ValueError, "increasing"),
    (lambda: optim.ExponentialLR(optim.SGD(1.0), "0.5"), TypeError, "gamma must be a number"),
    (lambda: optim.StepLR(T.scalar(), 2), TypeError, "optimizer or a float scalar shared"),
    (lambda: optim.StepLR(nnthe.shared(np.zeros(2, "float32")), 2), TypeError, "float scalar"),
    (lambda: optim.LinearWarmup(optim.SGD(1.0), 3), TypeError, "expected a schedule"),
    (lambda: optim.OneCycleLR(optim.SGD(1.0), 1.0, 10), ValueError, "cycle_momentum"),
    (lambda: optim.OneCycleLR(optim.SGD(1.0), 1.0), ValueError, "total_steps"),
    (lambda: optim.OneCycleLR(optim.Momentum(1.0), 1.0, 10, anneal_strategy="cosine"),
     ValueError, "anneal_strategy"),
    (lambda: optim.ReduceLROnPlateau(optim.SGD(1.0), mode="minimum"), ValueError, "mode"),
    (lambda: optim.ReduceLROnPlateau(optim.SGD(1.0), factor=1.0), ValueError, "factor"),
    (lambda: optim.ReduceLROnPlateau(optim.SGD(1.0)).step("bad"), TypeError, "expected a number"),
])
def test_schedule_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# -- against torch.optim.lr_scheduler ------------------------------------------------

TORCH_CASES = {
    "StepLR": (lambda o: optim.StepLR(o, 3, 0.5), lambda ls, o: ls.StepLR(o, 3, 0.5)),
    "MultiStepLR": (lambda o: optim.MultiStepLR(o, [2, 5, 9], 0.3),
                    lambda ls, o: ls.MultiStepLR(o, [2, 5, 9], 0.3)),
    "ExponentialLR": (lambda o: optim.ExponentialLR(o, 0.8), lambda ls, o: ls.ExponentialLR(o, 0.8)),
    "CosineAnnealingLR": (lambda o: optim.CosineAnnealingLR(o, 7, 0.01),
                          lambda ls, o: ls.CosineAnnealingLR(o, 7, 0.01)),
    "CosineAnnealingWarmRestarts": (
        lambda o: optim.CosineAnnealingWarmRestarts(o, 3, 2, 0.01),
        lambda ls, o: ls.CosineAnnealingWarmRestarts(o, 3, 2, 0.01)),
    "LinearWarmup": (
        lambda o: optim.LinearWarmup(optim.CosineAnnealingLR(o, 10), 5, start_factor=0.1),
        lambda ls, o: ls.SequentialLR(o, [ls.LinearLR(o, 0.1, 1.0, 5), ls.CosineAnnealingLR(o, 10)],
                                      milestones=[5])),
    "OneCycleLR": (lambda o: optim.OneCycleLR(o, 1.0, 19), lambda ls, o: ls.OneCycleLR(o, 1.0, 19)),
    "OneCycleLR-3phase-linear": (
        lambda o: optim.OneCycleLR(o, 1.0, 19, pct_start=0.25, anneal_strategy="linear",
                                   three_phase=True),
        lambda ls, o: ls.OneCycleLR(o, 1.0, 19, pct_start=0.25, anneal_strategy="linear",
                                    three_phase=True)),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_schedules_match_torch(name):
    torch = pytest.importorskip("torch")
    ours_make, torch_make = TORCH_CASES[name]
    base = 0.5                       # exact in float32
    opt = optim.Momentum(base)
    ours = ours_make(opt)
    p = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([p], lr=base, momentum=0.9)
    theirs = torch_make(torch.optim.lr_scheduler, topt)
    got, want, got_m, want_m = [ours.get_lr()], [theirs.get_last_lr()[0]], [], []
    for _ in range(18):
        topt.step()
        theirs.step()
        got.append(ours.step())
        want.append(theirs.get_last_lr()[0])
        got_m.append(float(opt.momentum.get_value()))
        want_m.append(topt.param_groups[0]["momentum"])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(got_m, want_m, rtol=1e-6)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_reduce_on_plateau_matches_torch(rng):
    torch = pytest.importorskip("torch")
    metrics = list(np.round(rng.uniform(0, 1, 40), 3) + np.linspace(1, 0, 40))
    kw = dict(mode="min", factor=0.5, patience=2, threshold=0.01, cooldown=1, min_lr=0.01)
    ours = optim.ReduceLROnPlateau(optim.SGD(1.0), **kw)
    p = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([p], lr=1.0)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    for m in metrics:
        got = ours.step(m)
        topt.step()
        theirs.step(m)
        assert got == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
