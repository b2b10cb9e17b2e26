"""nnthe.function: outputs, updates, givens, shared state, input checking, error
messages, aliasing, and deep graphs."""
from __future__ import annotations

import sys
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.compile import MissingInputError, UnusedInputError

from core_testutil import assert_close


# ---------------------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------------------

def test_single_list_and_no_outputs():
    x = T.dvector("x")
    v = np.array([1.0, 2.0])
    one = nnthe.function([x], x * 2)(v)
    assert isinstance(one, np.ndarray)
    assert_close(one, [2.0, 4.0])
    lst = nnthe.function([x], [x * 2, x.sum()])(v)
    assert isinstance(lst, list) and len(lst) == 2
    assert_close(lst[1], 3.0)
    one_in_list = nnthe.function([x], [x.sum()])(v)
    assert isinstance(one_in_list, list) and len(one_in_list) == 1
    s = nnthe.shared(np.float64(0.0), name="s")
    none = nnthe.function([x], None, updates={s: s + x.sum()})
    assert none(v) == []
    assert s.get_value() == 3.0
    assert nnthe.function([x], updates=[(s, s + 1)], on_unused_input="ignore")(v) == []


def test_scalars_are_0d_arrays():
    x = T.scalar("x")
    out = nnthe.function([x], x * 2)(3)
    assert type(out) is np.ndarray and out.shape == () and out.dtype == np.float32
    out = nnthe.function([x], x.sum())(3)
    assert type(out) is np.ndarray


def test_constant_output_and_no_inputs():
    f = nnthe.function([], T.constant(np.arange(3.0)) * 2)
    assert_close(f(), [0.0, 2.0, 4.0])
    x = T.dvector("x")
    c = nnthe.function([x], T.constant(5.0), on_unused_input="ignore")
    assert_close(c(np.zeros(1)), 5.0)


# ---------------------------------------------------------------------------------------
# updates and shared variables
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["dict", "OrderedDict", "list", "tuple"])
def test_update_forms(form):
    s = nnthe.shared(np.float32(0), name="s")
    inc = T.scalar("inc")
    pairs = [(s, s + inc)]
    updates = {"dict": dict(pairs), "OrderedDict": OrderedDict(pairs), "list": pairs,
               "tuple": tuple(pairs)}[form]
    f = nnthe.function([inc], s, updates=updates)
    assert_close(f(1.0), 0.0)   # outputs see the old value
    assert_close(f(2.0), 1.0)
    assert_close(s.get_value(), 3.0, dtype="float32")


def test_updates_all_see_old_values_swap():
    a = nnthe.shared(np.array([1.0]), name="a")
    b = nnthe.shared(np.array([2.0]), name="b")
    f = nnthe.function([], [a, b], updates={a: b, b: a})
    f()
    assert_close(a.get_value(), [2.0])
    assert_close(b.get_value(), [1.0])
    out = f()
    assert_close(out[0], [2.0])
    assert_close(a.get_value(), [1.0])


def test_update_chain_uses_old_values():
    a = nnthe.shared(1.0, name="a")
    b = nnthe.shared(10.0, name="b")
    f = nnthe.function([], updates=[(a, a + b), (b, a * 2)])
    f()
    assert a.get_value() == 11.0 and b.get_value() == 2.0


def test_shared_variables_are_implicit_inputs_and_see_set_value():
    w = nnthe.shared(np.array([1.0, 2.0]), name="w")
    x = T.dvector("x")
    f = nnthe.function([x], T.dot(w, x))
    assert_close(f(np.array([1.0, 1.0])), 3.0)
    w.set_value(np.array([5.0, 5.0]))
    assert_close(f(np.array([1.0, 1.0])), 10.0)
    with pytest.raises(TypeError, match="implicit inputs"):
        nnthe.function([w, x], x)


def test_default_update_applied_and_overridable():
    count = nnthe.shared(np.int64(0), name="count")
    count.default_update = count + 1
    x = T.dscalar("x")
    f = nnthe.function([x], x + T.cast(count, "float64"))
    assert_close(f(0.0), 0.0)
    assert_close(f(0.0), 1.0)
    assert count.get_value() == 2
    g = nnthe.function([x], x + T.cast(count, "float64"), updates={count: count + 10})
    g(0.0)
    assert count.get_value() == 12
    # a function that does not use the variable does not update it
    nnthe.function([x], x * 2)(1.0)
    assert count.get_value() == 12


def test_default_update_of_shared_used_only_by_an_update():
    step = nnthe.shared(np.int64(0), name="step")
    step.default_update = step + 1
    acc = nnthe.shared(0.0, name="acc")
    f = nnthe.function([], updates={acc: acc + T.cast(step, "float32")})
    f()
    f()
    assert step.get_value() == 2 and acc.get_value() == 1.0


def test_results_are_not_aliased_to_shared_or_inputs():
    s = nnthe.shared(np.array([1.0, 2.0]), name="s")
    out = nnthe.function([], s)()
    out[0] = 100.0
    assert_close(s.get_value(), [1.0, 2.0])
    x = T.dvector("x")
    v = np.array([1.0, 2.0])
    ident = nnthe.function([x], x)(v)
    assert ident is not v and not np.shares_memory(ident, v)
    view = nnthe.function([x], x[::-1].T)(v)
    assert not np.shares_memory(view, v)
    # the value written by an update is not the array returned
    t = nnthe.shared(np.zeros(2), name="t")
    f = nnthe.function([x], x * 2, updates={t: x * 2})
    r = f(v)
    r[0] = -1
    assert_close(t.get_value(), [2.0, 4.0])
    # a returned buffer is not overwritten by the next call
    g = nnthe.function([x], x * 2)
    first = g(v)
    g(np.array([7.0, 7.0]))
    assert_close(first, [2.0, 4.0])
    # updating a shared variable with another: the two do not share memory afterwards
    a = nnthe.shared(np.array([1.0]), name="a")
    b = nnthe.shared(np.array([2.0]), name="b")
    nnthe.function([], updates={a: b})()
    b.set_value(np.array([3.0]))
    b.get_value(borrow=True)[0] = 4.0
    assert_close(a.get_value(), [2.0])


def test_update_checks():
    s = nnthe.shared(np.zeros(3, dtype="float32"), name="s")
    x = T.fvector("x")
    with pytest.raises(TypeError, match=r"shared variable s has dtype float64.*T.cast"):
        nnthe.function([x], x, updates={s: T.cast(x, "float64")})
    with pytest.raises(TypeError, match="has 2 dimensions"):
        nnthe.function([x], x, updates={s: T.fmatrix()})
    with pytest.raises(ValueError, match=r"static shape \(4,\).*\(3,\)"):
        nnthe.function([x], x, updates={s: T.zeros(4)})
    with pytest.raises(TypeError, match="keyed by shared variables"):
        nnthe.function([x], x, updates={x: x + 1})
    with pytest.raises(ValueError, match="updated twice"):
        nnthe.function([x], x, updates=[(s, x), (s, x * 2)])
    with pytest.raises(TypeError, match="pair"):
        nnthe.function([x], x, updates=[(s, x, x)])
    with pytest.raises(TypeError, match="updates must be"):
        nnthe.function([x], x, updates=5)
    # a Python number is converted to the variable's dtype
    c = nnthe.shared(np.int32(0), name="c")
    nnthe.function([], updates={c: 7})()
    assert c.get_value() == 7 and c.get_value().dtype == np.int32


def test_update_runtime_shape_mismatch_is_caught():
    s = nnthe.shared(np.zeros(3), name="s", shape=(None,))
    x = T.dvector("x")
    f = nnthe.function([x], updates={s: x})
    f(np.ones(5))   # allowed: the static shape says (None,)
    assert s.get_value().shape == (5,)


# ---------------------------------------------------------------------------------------
# givens
# ---------------------------------------------------------------------------------------

def test_givens_with_shared_dataset():
    data = nnthe.shared(np.arange(10.0).reshape(5, 2), name="data")
    x = T.dmatrix("x")
    index = T.lscalar("index")
    batch = 2
    f = nnthe.function([index], x.sum(axis=0),
                       givens={x: data[index * batch:(index + 1) * batch]})
    assert_close(f(0), [2.0, 4.0])
    assert_close(f(1), [10.0, 12.0])


def test_givens_forms_and_errors():
    x = T.dvector("x")
    y = T.dvector("y")
    f = nnthe.function([y], x * 2, givens=[(x, y + 1)])
    assert_close(f(np.array([1.0])), [4.0])
    g = nnthe.function([], x * 2, givens={x: np.array([1.0, 2.0])})
    assert_close(g(), [2.0, 4.0])
    with pytest.raises(TypeError, match="dtype float64 but its replacement"):
        nnthe.function([], x, givens={x: T.fvector()})
    with pytest.raises(TypeError, match="1 dimensions but its replacement"):
        nnthe.function([], x, givens={x: T.dmatrix()})
    with pytest.raises(ValueError, match="both an input and replaced"):
        nnthe.function([x], x * 2, givens={x: y})
    with pytest.raises(TypeError, match="keys must be symbolic"):
        nnthe.function([y], y, givens={1.0: y})
    # a weak Python number replaces a float32 scalar
    s = T.fscalar("s")
    assert_close(nnthe.function([], s * 2, givens={s: 1.5})(), 3.0, dtype="float32")


# ---------------------------------------------------------------------------------------
# checks when compiling
# ---------------------------------------------------------------------------------------

def test_on_unused_input():
    x, y = T.dvector("x"), T.dvector("unused")
    with pytest.raises(UnusedInputError, match=r"input 1 \(unused.*on_unused_input='ignore'"):
        nnthe.function([x, y], x * 2)
    with pytest.warns(UserWarning, match="unused"):
        f = nnthe.function([x, y], x * 2, on_unused_input="warn")
    assert_close(f(np.ones(1), np.ones(2)), [2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nnthe.function([x, y], x * 2, on_unused_input="ignore")
    with pytest.raises(ValueError, match="on_unused_input must be"):
        nnthe.function([x], x, on_unused_input="sometimes")


def test_missing_input():
    x, y = T.dvector("x"), T.dvector("forgotten")
    with pytest.raises(MissingInputError, match=r"forgotten.*test_function\.py"):
        nnthe.function([x], x + y)


def test_function_argument_errors():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="inputs must be a list"):
        nnthe.function(x, x)
    with pytest.raises(TypeError, match="must be a symbolic variable"):
        nnthe.function([np.zeros(2)], x)
    with pytest.raises(TypeError, match="constant"):
        nnthe.function([T.constant(1.0)], x, on_unused_input="ignore")
    with pytest.raises(ValueError, match="more than once"):
        nnthe.function([x, x], x)
    with pytest.raises(ValueError, match="unknown mode"):
        nnthe.function([x], x, mode="TURBO")


# ---------------------------------------------------------------------------------------
# checks when calling
# ---------------------------------------------------------------------------------------

def test_arity_error_names_inputs():
    x, y = T.dvector("x"), T.dvector("y")
    f = nnthe.function([x, y], x + y, name="adder")
    with pytest.raises(TypeError, match=r"'adder' takes 2 input\(s\) \(x, y\), got 1"):
        f(np.ones(2))
    with pytest.raises(TypeError, match="takes 2 input"):
        f(np.ones(2), np.ones(2), np.ones(2))


def test_input_dtype_checks():
    x = T.fvector("x")
    f = nnthe.function([x], x * 2)
    # lossless casts are accepted
    assert f(np.array([1, 2], dtype="int16")).dtype == np.float32
    assert f([1, 2]).dtype == np.float32      # a list of Python ints: exact
    # a float64 array is refused unless downcasting is allowed
    with pytest.raises(TypeError, match=r"input 0 \(x\).*float32.*float64.*allow_input_downcast"):
        f(np.array([1.0, 2.0]))
    g = nnthe.function([x], x * 2, allow_input_downcast=True)
    assert_close(g(np.array([1.0, 2.0])), [2.0, 4.0], dtype="float32")
    with pytest.raises(TypeError, match="input 0"):
        f(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="symbolic variable"):
        f(x)


def test_python_numbers_cast_when_exact():
    s = T.fscalar("s")
    i = T.iscalar("i")
    f = nnthe.function([s], s * 2)
    assert_close(f(1.5), 3.0, dtype="float32")
    assert_close(f(3), 6.0, dtype="float32")
    assert_close(nnthe.function([s], s, allow_input_downcast=True)(0.1), np.float32(0.1))
    g = nnthe.function([i], i + 1)
    assert_close(g(3), 4, dtype="int32")
    with pytest.raises(TypeError, match="int32"):
        g(2.5)


def test_inexact_python_float_for_float32_scalar_is_refused():
    s = T.fscalar("s")
    f = nnthe.function([s], s * 2)
    with pytest.raises(TypeError, match=r"0\.1 cannot be represented exactly as float32"):
        f(0.1)
    i = T.iscalar("i")
    g = nnthe.function([i], i + 1)
    with pytest.raises(TypeError, match=r"input 0.*does not fit in int32"):
        g(2 ** 40)


def test_input_ndim_and_static_shape_checks():
    x = T.tensor("float32", shape=(None, 3), name="x")
    f = nnthe.function([x], x.sum())
    with pytest.raises(TypeError, match=r"input 0 \(x\).*2-d.*1-d"):
        f(np.zeros(3, dtype="float32"))
    with pytest.raises(ValueError, match=r"input 0 \(x\).*\(None, 3\).*\(2, 4\)"):
        f(np.zeros((2, 4), dtype="float32"))
    assert_close(f(np.ones((2, 3), dtype="float32")), 6.0)


def test_trust_input_skips_checks():
    x = T.fvector("x")
    f = nnthe.function([x], x * 2)
    f.trust_input = True
    assert_close(f(np.ones(2, dtype="float32")), [2.0, 2.0])
    f.trust_input = False
    with pytest.raises(TypeError):
        f(np.ones(2))


def test_runtime_error_names_op_shapes_and_creation_line():
    a = T.dmatrix("a")
    b = T.dmatrix("b")
    c = a + b  # the line the error must point to
    f = nnthe.function([a, b], c * 2)
    with pytest.raises(ValueError) as info:
        f(np.zeros((2, 3)), np.zeros((4, 5)))
    msg = str(info.value)
    assert "add" in msg
    assert "float64(2, 3)" in msg and "float64(4, 5)" in msg
    assert "test_function.py" in msg and "c = a + b" in msg


def test_runtime_error_in_user_op_names_it():
    from nnthe.core.graph import Apply, Op

    class Boom(Op):
        def make_node(self, x):
            x = T.as_tensor_variable(x)
            return Apply(self, [x], [x.type])

        def perform(self, node, x):
            raise RuntimeError("boom")

    x = T.dvector("x")
    y = Boom()(x)
    f = nnthe.function([x], y)
    with pytest.raises(RuntimeError, match=r"boom(.|\n)*Boom(.|\n)*float64\(2,\)(.|\n)*test_function\.py"):
        f(np.zeros(2))


# ---------------------------------------------------------------------------------------
# deep graphs
# ---------------------------------------------------------------------------------------

def test_10000_chained_ops_build_differentiate_compile_run():
    limit = sys.getrecursionlimit()
    x = T.dscalar("x")
    y = x
    for k in range(10000):
        y = y * 1.0001 if k % 2 else y + 0.0001
    g = nnthe.grad(y, x)
    f = nnthe.function([x], [y, g])
    val, grad = f(1.0)
    assert grad == pytest.approx(1.0001 ** 5000, rel=1e-9)
    want = 1.0
    for k in range(10000):
        want = want * 1.0001 if k % 2 else want + 0.0001
    assert val == pytest.approx(want, rel=1e-9)
    assert sys.getrecursionlimit() == limit
    # printing and cloning walk iteratively too
    assert nnthe.pp(y).count("+") == 5000
    nnthe.printing.to_dot(g)
    nnthe.debugprint(y, file=__import__("io").StringIO())
    nnthe.core.clone_graph([g])


# ---------------------------------------------------------------------------------------
# eval
# ---------------------------------------------------------------------------------------

def test_eval():
    x = T.dvector("x")
    y = x * 2
    assert_close(y.eval({x: np.array([1.0, 2.0])}), [2.0, 4.0])
    assert_close(y.eval({x: np.array([3.0])}), [6.0])
    assert_close((T.constant(2.0) * 3).eval(), 6.0)
