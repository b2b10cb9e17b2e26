"""The "did you mean" mechanism (nnthe/core/hints.py)."""
from __future__ import annotations

import inspect

import pytest

from nnthe.core.hints import did_you_mean, keyword_names, refuse_unknown_kwargs, suggest_keywords
from nnthe.core.nnet import conv2d, pool_2d


@suggest_keywords
def _conv(x, stride=1, *, padding=0):
    return x, stride, padding


def test_decorated_function_keeps_its_signature_and_works():
    assert list(inspect.signature(_conv).parameters) == ["x", "stride", "padding"]
    assert _conv(1, stride=2, padding=3) == (1, 2, 3)
    for f in (conv2d, pool_2d):
        params = inspect.signature(f).parameters.values()
        assert not any(p.kind is p.VAR_KEYWORD for p in params), f


def test_unknown_keyword_names_function_keyword_and_hint():
    with pytest.raises(TypeError, match=r"^_conv\(\) got an unexpected keyword argument 'strid'; "
                                        r"did you mean 'stride'\? Accepted: x, stride, padding$"):
        _conv(1, strid=2)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'zzz'\. Accepted"):
        _conv(1, zzz=2)  # nothing close: no hint


def test_name_and_aliases():
    @suggest_keywords(name="Adam", aliases={"lr": "learning_rate"})
    def adam(learning_rate=0.1):
        return learning_rate

    with pytest.raises(TypeError, match=r"^Adam\(\) .* 'lr'; did you mean 'learning_rate'\?"):
        adam(lr=1)


def test_var_keyword_functions_are_left_alone():
    def f(a, **kw):
        return kw

    assert suggest_keywords(f) is f
    assert keyword_names(f) is None


def test_refuse_unknown_kwargs_and_did_you_mean():
    refuse_unknown_kwargs("f", {"a": 1}, ["a"])  # known: no error
    with pytest.raises(TypeError, match="did you mean 'alpha'"):
        refuse_unknown_kwargs("f", {"alpah": 1}, ["alpha", "beta"])
    assert did_you_mean("zzz", ["alpha"]) == ""
