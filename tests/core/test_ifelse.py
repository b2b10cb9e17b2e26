"""ifelse: lazy (only the branch taken runs), values, several outputs, gradient, errors."""
import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe.core.graph import Apply, Op
from nnthe.gradient import verify_grad
from nnthe.ifelse import ifelse


class Boom(Op):
    """Raises when run: a branch that must not be evaluated."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type])

    def perform(self, node, x):
        raise RuntimeError("the branch not taken was run")


def test_only_the_branch_taken_runs():
    a, b = T.scalar('a'), T.scalar('b')
    z = ifelse(T.lt(a, b), a * 2, Boom()(b) + 1)
    f = nnthe.function([a, b], z)
    assert float(f(1, 2)) == 2
    with pytest.raises(RuntimeError, match="not taken"):
        f(3, 2)
    z2 = ifelse(T.lt(a, b), Boom()(a) * 3, b - a)
    assert float(nnthe.function([a, b], z2)(3, 2)) == -1


def test_work_needed_by_both_branches_or_the_condition_is_outside():
    x = T.vector('x')
    s = x.sum()
    z = ifelse(T.gt(s, 0), s * 2, s * 3)
    op = z.owner.op
    assert any(i is s for i in z.owner.inputs)
    inner = [type(n.op).__name__ for n in nnthe.core.graph.toposort(op.then_outputs)]
    assert "Sum" not in " ".join(inner)
    f = nnthe.function([x], z)
    assert float(f(np.ones(3, 'float32'))) == 6 and float(f(-np.ones(3, 'float32'))) == -9


def test_several_outputs_and_module_call():
    c = T.iscalar('c'); x = T.vector('x')
    p, q = nnthe.ifelse(c, [x + 1, x.sum()], [x - 1, x.max()])
    f = nnthe.function([c, x], [p, q])
    xv = np.array([1, 2], 'float32')
    r1, r0 = f(1, xv), f(0, xv)
    np.testing.assert_allclose(r1[0], [2, 3]); assert float(r1[1]) == 3
    np.testing.assert_allclose(r0[0], [0, 1]); assert float(r0[1]) == 2


def test_gradient():
    x = T.dvector('x'); c = T.dscalar('c')
    g = nnthe.grad(ifelse(T.gt(c, 0), (x ** 2).sum(), T.sin(x).sum()), x)
    f = nnthe.function([x, c], g)
    xv = np.array([0.5, -1.0])
    np.testing.assert_allclose(f(xv, 1.0), 2 * xv)
    np.testing.assert_allclose(f(xv, -1.0), np.cos(xv))
    verify_grad(lambda x: ifelse(T.gt(x.sum(), 0), x ** 3, T.exp(x)), [np.array([0.3, 0.4])])
    verify_grad(lambda x: ifelse(T.gt(x.sum(), 0), x ** 3, T.exp(x)), [np.array([-0.3, -0.4])])


def test_the_outputs_do_not_alias_inputs():
    x = T.vector('x')
    f = nnthe.function([x], ifelse(T.constant(1), x, x * 2))
    xv = np.ones(2, 'float32')
    out = f(xv)
    out[0] = 5
    assert xv[0] == 1


def test_errors():
    x = T.vector('x'); m = T.matrix('m')
    with pytest.raises(TypeError, match="scalar"):
        ifelse(x, x, x)
    with pytest.raises(TypeError, match="same dtype and rank"):
        ifelse(T.constant(1), x, m)
    with pytest.raises(TypeError, match="same dtype and rank"):
        ifelse(T.constant(1), x, T.dvector())
    with pytest.raises(ValueError, match="2 outputs.*1"):
        ifelse(T.constant(1), [x, x], [x])
