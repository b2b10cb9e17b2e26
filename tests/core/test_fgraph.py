"""FunctionGraph: readers kept exact through replacement, dead nodes pruned."""
import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.compile.mode import Mode
from nnthe.core.fgraph import OUTPUT, FunctionGraph


def op_names(f):
    return [str(n.op) for n in f.fgraph.toposort()]


def inplace_count(f):
    return sum("inplace" in name for name in op_names(f))


@pytest.mark.parametrize("with_identity, without", [
    (lambda x: (T.exp(x) + 0) * 2 + 1, lambda x: T.exp(x) * 2 + 1),
    (lambda x: T.tanh((T.exp(x) * 1) * 3) - x, lambda x: T.tanh(T.exp(x) * 3) - x),
])
def test_a_removed_identity_leaves_no_phantom_reader(with_identity, without):
    # The node computing `exp(x) + 0` is replaced by exp(x); before the graph pruned
    # it, it stayed a reader of exp(x) and blocked writing the multiplication in place.
    x = T.vector("x")
    f1, f2 = nnthe.function([x], with_identity(x)), nnthe.function([x], without(x))
    assert op_names(f1) == op_names(f2)
    assert inplace_count(f1) == inplace_count(f2) == len(op_names(f2)) - 1
    v = np.linspace(-1, 1, 5).astype("float32")
    np.testing.assert_array_equal(f1(v), f2(v))


def test_replace_prunes_the_dead_node_and_its_readers():
    x = T.vector("x")
    e = T.exp(x)
    y = e + 1
    z = T.log(y)
    fg = FunctionGraph([x], [z])
    assert fg.readers_of(e) == [(y.owner, 0)]
    w = T.sqrt(e)
    fg.replace(y, w)
    assert y.owner not in fg.nodes
    assert fg.readers_of(e) == [(w.owner, 0)]
    assert fg.readers_of(w) == [(z.owner, 0)]
    assert fg.only_reader(e, w.owner)
    assert fg.readers_of(z) == [(OUTPUT, 0)] and fg.is_output(z)


def test_pruning_follows_chains_of_dead_nodes():
    x = T.vector("x")
    a = T.exp(x)
    b = T.sin(a)
    c = T.cos(b)
    fg = FunctionGraph([x], [c])
    fg.replace(c, T.tanh(x))
    for v in (a, b, c):
        assert v.owner not in fg.nodes
    assert fg.readers_of(x) == [(fg.outputs[0].owner, 0)]


def test_a_node_with_a_live_output_survives():
    x = T.vector("x")
    parts = T.split(x, [2, 3], 2, axis=0)
    fg = FunctionGraph([x], [parts[0] * 2, parts[1] * 3])
    fg.replace(fg.outputs[0], T.exp(x)[:2])
    assert parts[0].owner in fg.nodes  # parts[1] is still read
    assert not fg.has_readers(parts[0])


def test_a_computed_input_is_never_overwritten():
    # function([exp(x)], ...) takes the caller's array for exp(x); it must not be
    # treated as a buffer the graph allocated (in place would write into it).
    x = T.vector("x")
    y = T.exp(x)
    f = nnthe.function([y], (y * 2) + 1)
    a = np.ones(3, "float32")
    np.testing.assert_array_equal(f(a), [3, 3, 3])
    np.testing.assert_array_equal(a, [1, 1, 1])


def test_a_merged_constant_with_thousands_of_readers():
    x = T.vector("x")
    h = x
    for _ in range(3000):
        h = T.tanh(h * 1 + 0)
    f = nnthe.function([x], h, mode=Mode(exclude=["fusion"]))  # fused, it is one node
    assert len(f.fgraph.toposort()) == 3000
    assert inplace_count(f) == 2999
    np.testing.assert_allclose(f(np.zeros(3, "float32")), 0)
