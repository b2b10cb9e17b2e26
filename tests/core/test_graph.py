"""The graph: Variables, Apply nodes, Op equality, creation sites, walks and cloning."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.graph import (Apply, Constant, Op, ancestors, clone_graph, graph_inputs,
                              toposort)
from nnthe.core.ops.elemwise import Elemwise
from nnthe.core.ops.reduce import CAReduce


def test_apply_structure():
    x = T.vector("x")
    y = T.exp(x)
    node = y.owner
    assert isinstance(node, Apply) and isinstance(node.op, Elemwise)
    assert node.inputs == [x] and node.outputs == [y] and node.out is y
    assert y.index == 0 and x.owner is None


def test_ops_with_equal_props_are_equal():
    a = CAReduce("sum", (0,), False, None)
    b = CAReduce("sum", (0,), False, None)
    c = CAReduce("sum", (1,), False, None)
    assert a == b and hash(a) == hash(b) and a != c
    assert T.exp.op == T.exp(T.vector()).owner.op
    assert "axes=(0,)" in str(a)


def test_creation_site_is_user_line():
    x = T.vector("x")
    y = x * 2  # site
    filename, line = y.site
    assert filename == __file__
    assert "y = x * 2  # site" in y.describe()


def test_repr_of_variables():
    x = T.vector("x")
    assert repr(x) == "x"
    assert "exp" in repr(T.exp(x))
    assert repr(T.constant(np.array([1.0, 2.0]))) == "[1.0, 2.0]"
    assert "float32" in repr(T.vector())


def test_walks():
    x, y = T.vector("x"), T.vector("y")
    a = x * y
    b = T.exp(a) + a
    order = toposort([b])
    assert order.index(a.owner) < order.index(b.owner.inputs[0].owner) < order.index(b.owner)
    assert set(map(id, graph_inputs([b]))) == {id(x), id(y)}
    assert ancestors([b])[0] is b
    # blockers are treated as roots
    assert [v for v in graph_inputs([b], blockers=[a])] == [a]
    assert all(n is not a.owner for n in toposort([b], blockers=[a]))


def test_clone_graph_replaces_and_leaves_original():
    x, z = T.dvector("x"), T.dvector("z")
    y = T.exp(x) * 2
    (new,), memo = clone_graph([y], {x: z})
    assert new is not y and memo[x] is z
    assert z in graph_inputs([new]) and x not in graph_inputs([new])
    assert x in graph_inputs([y])
    np.testing.assert_allclose(nnthe.function([z], new)(np.zeros(1)), [2.0])


def test_clone_keeps_constants_and_shared():
    s = nnthe.shared(np.ones(2), name="s")
    c = T.constant(np.ones(2))
    y = s * c
    (new,), _ = clone_graph([y])
    assert new.owner.inputs[0] is s and new.owner.inputs[1] is c


def test_constant_signature():
    a = T.constant(np.array([1.0, 2.0]))
    b = T.constant(np.array([1.0, 2.0]))
    c = T.constant(np.array([1.0, 3.0]))
    assert a.signature() == b.signature() != c.signature()
    assert isinstance(a, Constant) and a.clone() is a
    assert a.value is a.data


def test_op_defaults_raise_helpfully():
    class Bare(Op):
        pass

    with pytest.raises(NotImplementedError, match="Bare.make_node"):
        Bare()(T.vector())
    node = Apply(Bare(), [T.vector()], [T.vector().type])
    with pytest.raises(NotImplementedError, match="Bare.perform"):
        Bare().perform(node, np.zeros(1))
    with pytest.raises(ValueError, match="outputs"):
        Apply(Bare(), [], [T.vector().type, T.vector().type]).out


def test_multi_output_node_repr():
    parts = T.split(T.vector("v"), [1, 2])
    assert repr(parts[1]).endswith(".1")
