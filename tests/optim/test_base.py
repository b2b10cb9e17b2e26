"""Optimizer objects: hyper-parameters as shared variables, stable state names, reuse of
state, and the error paths."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe import optim
from nnthe.core.gradient import DisconnectedInputError

import optim_testutil as U
from optim_testutil import f32

ALL = [optim.SGD, optim.Momentum, optim.Nesterov, optim.Adagrad, optim.RMSprop,
       optim.Adadelta, optim.Adam, optim.AdamW, optim.Adamax, optim.AMSGrad]


def _make(cls, **kw):
    return cls(0.01, **kw)


def test_changing_learning_rate_after_compiling_changes_next_step():
    pr = U.problem()
    opt = optim.SGD(0.1)
    f = nnthe.function([pr["x"], pr["y"]], pr["loss"], updates=opt.updates(pr["loss"], [pr["W"], pr["b"]]))
    f(pr["X"], pr["Y"])
    before = [pr["W"].get_value(), pr["b"].get_value()]
    g = pr["np_grads"](before)
    opt.learning_rate.set_value(0.01)          # not exact in float32: must be accepted
    f(pr["X"], pr["Y"])
    np.testing.assert_allclose(pr["W"].get_value(), before[0] - f32(0.01) * g[0], rtol=1e-12)
    opt.lr = 0.5                               # the property
    assert opt.lr == 0.5
    before = [pr["W"].get_value(), pr["b"].get_value()]
    g = pr["np_grads"](before)
    f(pr["X"], pr["Y"])
    np.testing.assert_allclose(pr["b"].get_value(), before[1] - 0.5 * g[1], rtol=1e-12)


def test_changing_momentum_and_betas_takes_effect():
    a, _, _ = U.run_nnthe(lambda: optim.Adam(0.05), steps=3)
    opt = optim.Adam(0.05, beta1=0.5)
    opt.beta1.set_value(0.9)
    b, _, _ = U.run_nnthe(lambda: opt, steps=3)
    np.testing.assert_allclose(a[-1][0], b[-1][0], rtol=1e-12)


@pytest.mark.parametrize("cls", ALL)
def test_hyperparams_are_float_scalar_shared_variables(cls):
    opt = _make(cls)
    hp = opt.hyperparams
    assert list(hp)[0] == "learning_rate"
    for name, var in hp.items():
        assert isinstance(var, nnthe.SharedVariable)
        assert var.type.ndim == 0 and var.type.dtype == nnthe.config.floatX
        assert var.name == name
        assert getattr(opt, name) is var
    assert opt.lr == f32(0.01)


def test_shared_hyperparameter_is_used_as_given():
    lr = nnthe.shared(np.float32(0.1), name="my_lr")
    opt1, opt2 = optim.SGD(lr), optim.Momentum(lr)
    assert opt1.learning_rate is lr and opt2.hyperparams["learning_rate"] is lr


def test_floatX_float64_hyperparams(floatX_64):
    opt = optim.Adam(0.01)
    assert opt.learning_rate.type.dtype == "float64"
    assert opt.lr == 0.01


def test_state_names_use_param_names_and_are_stable():
    def build():
        _, opt, _ = U.run_nnthe(lambda: optim.Adam(0.01, amsgrad=True), steps=1)
        return opt

    a, b = build(), build()
    assert list(a.state) == ["step", "0/W/m", "0/W/v", "0/W/max_v", "0/b/m", "0/b/v", "0/b/max_v"]
    assert list(a.state) == list(b.state)
    for k, v in a.state.items():
        assert v.name == k
        assert isinstance(v, nnthe.SharedVariable)
    assert a.state["step"].type.dtype == "int64"
    assert a.state["0/W/m"].get_value().shape == (3, 2)


@pytest.mark.parametrize("names", [(None, None), ("W", "W"), ("W", None)])
def test_state_names_fall_back_to_positions(names):
    _, opt, _ = U.run_nnthe(lambda: optim.Momentum(0.01), steps=1, names=names)
    assert list(opt.state) == ["param0/velocity", "param1/velocity"]


@pytest.mark.parametrize("cls,slots", [
    (optim.SGD, []), (optim.Momentum, ["velocity"]), (optim.Nesterov, ["velocity"]),
    (optim.Adagrad, ["sum_sq"]), (optim.RMSprop, ["square_avg"]),
    (optim.Adadelta, ["square_avg", "acc_delta"]), (optim.Adam, ["m", "v"]),
    (optim.AdamW, ["m", "v"]), (optim.Adamax, ["m", "u"]), (optim.AMSGrad, ["m", "v", "max_v"]),
])
def test_state_slots(cls, slots):
    _, opt, _ = U.run_nnthe(lambda: _make(cls), steps=1)
    per_param = [k for k in opt.state if k != "step"]
    assert per_param == [f"0/W/{s}" for s in slots] + [f"0/b/{s}" for s in slots]
    assert ("step" in opt.state) == opt.uses_step


def test_state_restored_by_set_value_resumes_the_trajectory():
    # What a checkpoint does: copy state and params into a fresh build, continue.
    full, _, _ = U.run_nnthe(lambda: optim.Adam(0.05), steps=6)
    _, opt_a, pr_a = U.run_nnthe(lambda: optim.Adam(0.05), steps=3)
    pr_b = U.problem()
    opt_b = optim.Adam(0.05)
    f = nnthe.function([pr_b["x"], pr_b["y"]], pr_b["loss"],
                       updates=opt_b.updates(pr_b["loss"], [pr_b["W"], pr_b["b"]]))
    for k, v in opt_a.state.items():
        opt_b.state[k].set_value(v.get_value())
    pr_b["W"].set_value(pr_a["W"].get_value())
    pr_b["b"].set_value(pr_a["b"].get_value())
    for _ in range(3):
        f(pr_b["X"], pr_b["Y"])
    np.testing.assert_allclose(pr_b["W"].get_value(), full[-1][0], rtol=1e-12)


def test_updates_again_with_same_params_reuses_state():
    pr = U.problem()
    opt = optim.Adam(0.01)
    u1 = opt.updates(pr["loss"], [pr["W"], pr["b"]])
    state = opt.state
    u2 = opt.updates(pr["loss"], [pr["W"], pr["b"]])
    assert all(opt.state[k] is v for k, v in state.items())
    assert set(u1) == set(u2)


def test_updates_with_other_params_raises():
    pr = U.problem()
    opt = optim.Adam(0.01)
    opt.updates(pr["loss"], [pr["W"], pr["b"]])
    with pytest.raises(ValueError, match="one optimizer per parameter list"):
        opt.updates(pr["loss"], [pr["W"]])


def test_updates_dict_is_ordered_and_complete():
    pr = U.problem()
    opt = optim.Momentum(0.01)
    upd = opt.updates(pr["loss"], [pr["W"], pr["b"]])
    assert type(upd).__name__ == "OrderedDict"
    assert set(upd) == {pr["W"], pr["b"], *opt.state.values()}


def test_gradients_instead_of_loss():
    pr = U.problem()
    grads = nnthe.grad(pr["loss"], [pr["W"], pr["b"]])
    opt = optim.SGD(0.1)
    f = nnthe.function([pr["x"], pr["y"]], pr["loss"], updates=opt.updates(grads, [pr["W"], pr["b"]]))
    f(pr["X"], pr["Y"])
    g = pr["np_grads"](pr["init"])
    np.testing.assert_allclose(pr["W"].get_value(), pr["init"][0] - f32(0.1) * g[0], rtol=1e-12)


def test_weight_decay_as_shared_variable_can_be_changed():
    wd = nnthe.shared(np.float32(0.0), name="wd")
    opt = optim.SGD(0.1, weight_decay=wd)
    wd.set_value(np.float32(0.5))
    got, _, _ = U.run_nnthe(lambda: opt, steps=2)
    want = U.run_reference(U.ref_sgd, dict(lr=f32(0.1), weight_decay=0.5), steps=2)
    np.testing.assert_allclose(got[-1][0], want[-1][0], rtol=1e-12)


def test_repr():
    assert repr(optim.SGD(0.5)).startswith("SGD(learning_rate=0.5")


# -- error paths --------------------------------------------------------------------

def test_param_not_shared_raises_type_error_naming_it():
    pr = U.problem()
    with pytest.raises(TypeError, match=r"params\[1\].*'x'|params\[1\] \(x"):
        optim.SGD(0.1).updates(pr["loss"], [pr["W"], pr["x"]])


def test_integer_param_raises():
    p = nnthe.shared(np.zeros(3, dtype="int64"), name="counts")
    with pytest.raises(TypeError, match="counts.*int64"):
        optim.SGD(0.1).updates([T.zeros((3,))], [p])


def test_duplicate_param_raises():
    pr = U.problem()
    with pytest.raises(ValueError, match="same variable"):
        optim.SGD(0.1).updates(pr["loss"], [pr["W"], pr["W"]])


def test_empty_or_bad_params_raise():
    pr = U.problem()
    with pytest.raises(ValueError, match="empty"):
        optim.SGD(0.1).updates(pr["loss"], [])
    with pytest.raises(TypeError, match="list of shared"):
        optim.SGD(0.1).updates(pr["loss"], {"W": pr["W"]})


def test_grads_and_params_length_mismatch_raises():
    pr = U.problem()
    grads = nnthe.grad(pr["loss"], [pr["W"], pr["b"]])
    with pytest.raises(ValueError, match="1 gradients for 2 parameters"):
        optim.Adam().updates(grads[:1], [pr["W"], pr["b"]])


def test_grad_with_wrong_ndim_raises():
    pr = U.problem()
    with pytest.raises(TypeError, match="dimensions"):
        optim.Adam().updates([T.zeros((2,)), T.zeros((2,))], [pr["W"], pr["b"]])


def test_disconnected_param_is_named():
    pr = U.problem()
    unused = nnthe.shared(np.zeros(4), name="unused_bias")
    with pytest.raises(DisconnectedInputError, match=r"params\[2\] \(unused_bias\)"):
        optim.Adam().updates(pr["loss"], [pr["W"], pr["b"], unused])


def test_loss_of_wrong_kind_raises():
    pr = U.problem()
    with pytest.raises(TypeError, match="scalar loss or a list"):
        optim.SGD(0.1).updates(3.0, [pr["W"]])


@pytest.mark.parametrize("kw,hint", [
    (dict(lr=0.1), "did you mean learning_rate"),
    (dict(learning_rat=0.1), "did you mean learning_rate"),
    (dict(eps=1e-8), "did you mean epsilon"),
    (dict(betas=(0.9, 0.99)), "did you mean beta1=..., beta2="),
    (dict(weight_dacay=0.1), "did you mean weight_decay"),
])
def test_unknown_keyword_has_hint(kw, hint):
    with pytest.raises(TypeError, match=hint):
        optim.Adam(**kw)


@pytest.mark.parametrize("cls", ALL)
def test_unknown_keyword_refused_by_every_optimizer(cls):
    with pytest.raises(TypeError, match="unexpected keyword argument.*'momentun'"):
        cls(0.1, momentun=0.9)


@pytest.mark.parametrize("make,match", [
    (lambda: optim.SGD(-0.1), "learning_rate must be in"),
    (lambda: optim.Adam(beta1=1.0), "beta1 must be in"),
    (lambda: optim.Momentum(0.1, momentum=-1), "momentum must be in"),
    (lambda: optim.Adam(epsilon=-1.0), "epsilon must be >= 0"),
    (lambda: optim.SGD(0.1, clip_norm=0), "clip_norm must be a positive"),
    (lambda: optim.SGD(float("nan")), "finite|must be in"),
])
def test_bad_hyperparameter_values(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_hyperparameter_types():
    with pytest.raises(TypeError, match="expected a number"):
        optim.SGD("0.1")
    with pytest.raises(TypeError, match="float scalar shared"):
        optim.SGD(nnthe.shared(np.zeros(2, "float32")))
    with pytest.raises(TypeError, match="symbolic"):
        optim.SGD(T.scalar("lr"))


def test_hyperparameter_set_value_errors():
    opt = optim.SGD(0.1)
    with pytest.raises(TypeError, match="real number"):
        opt.learning_rate.set_value(np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        opt.lr = float("inf")
    with pytest.raises(TypeError, match="symbolic"):
        opt.learning_rate.set_value(T.scalar())
    assert opt.lr == f32(0.1)
