"""jacobian and hessian for sizes known only at run time (through scan), as in Theano's
derivatives tutorial; the static-shape path is unchanged."""
import numpy as np

import nnthe
import nnthe.tensor as T


def test_jacobian_of_a_vector_of_unknown_length():
    x = T.dvector('x')
    J = nnthe.gradient.jacobian(T.exp(x) * x[0], x)
    f = nnthe.function([x], J)
    xv = np.array([0.5, 1.0, 2.0])
    ref = np.diag(np.exp(xv) * xv[0])
    ref[:, 0] += np.exp(xv)
    np.testing.assert_allclose(f(xv), ref)
    assert f(np.array([1.0, 2.0])).shape == (2, 2)     # another length, same function


def test_tutorial_jacobian_and_hessian():
    x = T.dvector('x')
    y = x ** 2
    J, updates = nnthe.scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(y.shape[0]),
                            non_sequences=[y, x])
    f = nnthe.function([x], J, updates=updates)
    np.testing.assert_allclose(f([4, 4]), [[8, 0], [0, 8]])
    cost = (x ** 2).sum()
    gy = T.grad(cost, x)
    H, updates = nnthe.scan(lambda i, gy, x: T.grad(gy[i], x), sequences=T.arange(gy.shape[0]),
                            non_sequences=[gy, x])
    np.testing.assert_allclose(nnthe.function([x], H, updates=updates)([4, 4]), [[2, 0], [0, 2]])
    np.testing.assert_allclose(nnthe.function([x], nnthe.gradient.hessian(cost, x))([4, 4]),
                               [[2, 0], [0, 2]])


def test_hessian_of_a_non_quadratic_cost_and_several_wrt():
    x = T.dvector('x'); W = T.dmatrix('W')
    cost = T.tanh(T.dot(W, x)).sum()
    H = nnthe.gradient.hessian(cost, x)
    Jx, JW = nnthe.gradient.jacobian(T.tanh(T.dot(W, x)), [x, W])
    f = nnthe.function([x, W], [H, Jx, JW])
    rng = np.random.default_rng(0)
    xv, Wv = rng.normal(size=3), rng.normal(size=(2, 3))
    Hv, Jxv, JWv = f(xv, Wv)
    t = np.tanh(Wv @ xv)
    np.testing.assert_allclose(Hv, Wv.T @ np.diag(-2 * t * (1 - t ** 2)) @ Wv, rtol=1e-10)
    np.testing.assert_allclose(Jxv, (1 - t ** 2)[:, None] * Wv, rtol=1e-10)
    assert JWv.shape == (2, 2, 3)


def test_static_shape_path_builds_no_scan():
    x = T.tensor('float64', shape=(3,), name='x')
    J = nnthe.gradient.jacobian(x ** 2, x)
    ops = {type(n.op).__name__ for n in nnthe.core.graph.toposort([J])}
    assert "Scan" not in ops and J.type.shape == (3, 3)
