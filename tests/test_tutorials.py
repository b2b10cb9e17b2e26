"""The seed program and the classic Theano tutorials, run with only the import lines
changed (``import nnthe as theano; import nnthe.tensor as T``).

Departures from the tutorial text are marked ``# CHANGED:`` with the reason.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy
import numpy as np
import pytest

import nnthe as theano
import nnthe.tensor as T
from nnthe import function, shared

ROOT = Path(__file__).resolve().parents[1]


def test_seed_program_prints_7():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "seed.py")], capture_output=True,
                         text=True, timeout=120, cwd=str(ROOT))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "7.0"


def test_baby_steps_algebra():
    x = T.dscalar('x')
    y = T.dscalar('y')
    z = x + y
    f = function([x, y], z)
    assert f(2, 3) == numpy.array(5.0)
    assert numpy.allclose(f(16.3, 12.1), 28.4)
    assert numpy.allclose(z.eval({x: 16.3, y: 12.1}), 28.4)
    assert theano.pp(z) == "x + y"

    x = T.dmatrix('x')
    y = T.dmatrix('y')
    z = x + y
    f = function([x, y], z)
    numpy.testing.assert_array_equal(f([[1, 2], [3, 4]], [[10, 20], [30, 40]]),
                                     numpy.array([[11., 22.], [33., 44.]]))
    numpy.testing.assert_array_equal(f(numpy.array([[1, 2], [3, 4]]), numpy.array([[10, 20], [30, 40]])),
                                     numpy.array([[11., 22.], [33., 44.]]))


def test_logistic_function_and_more_than_one_thing():
    x = T.dmatrix('x')
    s = 1 / (1 + T.exp(-x))
    logistic = theano.function([x], s)
    want = numpy.array([[0.5, 0.73105858], [0.26894142, 0.11920292]])
    numpy.testing.assert_allclose(logistic([[0, 1], [-1, -2]]), want, rtol=1e-7)
    s2 = (1 + T.tanh(x / 2)) / 2
    logistic2 = theano.function([x], s2)
    numpy.testing.assert_allclose(logistic2([[0, 1], [-1, -2]]), want, rtol=1e-7)

    # "Computing More than one Thing at the Same Time"
    a, b = T.dmatrices('a', 'b')
    diff = a - b
    abs_diff = abs(diff)
    diff_squared = diff**2
    f = theano.function([a, b], [diff, abs_diff, diff_squared])
    d, ad, d2 = f([[1, 1], [1, 1]], [[0, 1], [2, 3]])
    numpy.testing.assert_array_equal(d, [[1., 0.], [-1., -2.]])
    numpy.testing.assert_array_equal(ad, [[1., 0.], [1., 2.]])
    numpy.testing.assert_array_equal(d2, [[1., 0.], [1., 4.]])


def test_setting_a_default_value_for_an_argument():
    # The tutorial's ``theano.In(y, value=1)``.
    from nnthe import In
    x, y = T.dscalars('x', 'y')
    z = x + y
    f = function([x, In(y, value=1)], z)
    assert f(33) == 34.0
    assert f(33, 2) == 35.0


def test_using_shared_variables():
    state = shared(0)
    inc = T.iscalar('inc')
    accumulator = function([inc], state, updates=[(state, state+inc)])
    assert state.get_value() == 0
    assert accumulator(1) == 0
    assert state.get_value() == 1
    assert accumulator(300) == 1
    assert state.get_value() == 301
    state.set_value(-1)
    assert accumulator(3) == -1
    assert state.get_value() == 2
    decrementor = function([inc], state, updates=[(state, state-inc)])
    assert decrementor(2) == 2
    assert state.get_value() == 0
    fn_of_state = state * 2 + inc
    # The type of foo must match the shared variable we are replacing
    # with the ``givens``
    foo = T.scalar(dtype=state.dtype)
    skip_shared = function([inc, foo], fn_of_state, givens=[(state, foo)])
    assert skip_shared(1, 3) == 7
    assert state.get_value() == 0


def test_using_random_numbers():
    # The tutorial's RandomStreams, from nnthe.random instead of
    # theano.tensor.shared_randomstreams (the only change).
    from nnthe.random import RandomStreams

    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    rv_n = srng.normal((2, 2))
    f = function([], rv_u)
    g = function([], rv_n)
    nearly_zeros = function([], rv_u + rv_u - 2 * rv_u)
    f_val0, f_val1 = f(), f()
    assert f_val0.shape == (2, 2) and not np.array_equal(f_val0, f_val1)  # new draws each call
    assert np.all((0 <= f_val0) & (f_val0 < 1))
    assert g().shape == (2, 2)
    # one draw per call, used three times in the expression
    np.testing.assert_allclose(nearly_zeros(), np.zeros((2, 2)), atol=1e-6)
    # the same seed gives the same numbers
    again = RandomStreams(seed=234)
    h = function([], again.uniform((2, 2)))
    np.testing.assert_array_equal(h(), f_val0)


def test_derivatives():
    x = T.dscalar('x')
    y = x ** 2
    gy = T.grad(y, x)
    f = theano.function([x], gy)
    assert f(4) == 8.0
    assert numpy.allclose(f(94.2), 188.4)

    x = T.dmatrix('x')
    s = T.sum(1 / (1 + T.exp(-x)))
    gs = T.grad(s, x)
    dlogistic = theano.function([x], gs)
    numpy.testing.assert_allclose(dlogistic([[0, 1], [-1, -2]]),
                                  [[0.25, 0.19661193], [0.19661193, 0.10499359]], rtol=1e-7)


def test_jacobian_and_hessian_without_scan():
    # The tutorial computes these with theano.scan; nnthe has no scan, but
    # theano.gradient.jacobian / hessian give the same results.
    # CHANGED: the vector needs a static shape (nnthe builds the Jacobian row by row).
    x = T.dvector('x', shape=(2,))
    y = x ** 2
    J = theano.gradient.jacobian(y, x)
    f = theano.function([x], J)
    numpy.testing.assert_array_equal(f([4, 4]), [[8., 0.], [0., 8.]])
    cost = y.sum()
    H = theano.gradient.hessian(cost, x)
    f = theano.function([x], H, on_unused_input='ignore')  # CHANGED: H does not depend on x
    numpy.testing.assert_array_equal(f([4, 4]), [[2., 0.], [0., 2.]])


@pytest.fixture(params=["float32", "float64"])
def any_floatX(request):
    """Run a test with nnthe's default floatX (float32) and with Theano's (float64)."""
    from nnthe.config import config

    old = config.floatX
    config.floatX = request.param
    yield request.param
    config.floatX = old


def test_a_real_example_logistic_regression(any_floatX):
    # Unchanged but for the seed and the number of steps, in both floatX: with nnthe's
    # float32 default, ``shared(0.)`` is float32 and ``- b`` next to the float64 data the
    # user declared (T.dmatrix) computes in float64 without an UpcastWarning (which
    # pytest makes an error): float64 was asked for, and b's float32 was only a default.
    rng = numpy.random.RandomState(0)  # CHANGED: seeded (was ``numpy.random``)

    N = 400                                   # training sample size
    feats = 784                               # number of input variables

    # generate a dataset: D = (input_values, target_class)
    D = (rng.randn(N, feats), rng.randint(size=N, low=0, high=2))
    training_steps = 300                      # CHANGED: 10000 in the tutorial; kept fast

    # Declare Theano symbolic variables
    x = T.dmatrix("x")
    y = T.dvector("y")

    # initialize the weight vector w randomly
    #
    # this and the following bias variable b
    # are shared so they keep their values
    # between training iterations (updates)
    w = theano.shared(rng.randn(feats), name="w")

    # initialize the bias term
    b = theano.shared(0., name="b")

    # Construct Theano expression graph
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))   # Probability that target = 1
    prediction = p_1 > 0.5                    # The prediction thresholded
    xent = -y * T.log(p_1) - (1-y) * T.log(1-p_1) # Cross-entropy loss function
    cost = xent.mean() + 0.01 * (w ** 2).sum()# The cost to minimize
    gw, gb = T.grad(cost, [w, b])             # Compute the gradient of the cost
                                              # w.r.t weight vector w and
                                              # bias term b

    # Compile
    train = theano.function(
              inputs=[x,y],
              outputs=[prediction, xent],
              updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    predict = theano.function(inputs=[x], outputs=prediction)

    # Train
    first = None
    for i in range(training_steps):
        pred, err = train(D[0], D[1])
        if first is None:
            first = err.mean()

    assert w.get_value().dtype == numpy.float64 and w.get_value().shape == (feats,)
    assert b.get_value().dtype == any_floatX  # shared(0.) follows floatX
    assert err.dtype == numpy.float64
    assert err.mean() < first
    assert (predict(D[0]) == D[1]).mean() > 0.95


def test_logistic_regression_with_sigmoid_float32():
    # The same model in nnthe's float32 default, with T.nnet.sigmoid / T.softplus
    # (the tutorial's variant with ``T.nnet.sigmoid``).
    rng = numpy.random.RandomState(1)
    N, feats = 200, 50
    D = (rng.randn(N, feats).astype("float32"), rng.randint(size=N, low=0, high=2).astype("float32"))
    x = T.matrix("x")
    y = T.vector("y")
    w = theano.shared(rng.randn(feats).astype("float32") * 0.01, name="w")
    b = theano.shared(0., name="b")
    sigmoid = getattr(getattr(T, "nnet", None), "sigmoid", T.sigmoid)  # CHANGED if no T.nnet
    z = T.dot(x, w) + b
    p_1 = sigmoid(z)
    prediction = p_1 > 0.5
    xent = T.softplus(-z) * y + T.softplus(z) * (1 - y)   # stable -y log p - (1-y) log(1-p)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = theano.function(inputs=[x, y], outputs=[prediction, xent],
                            updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    losses = [train(D[0], D[1])[1].mean() for _ in range(50)]
    assert losses[-1] < losses[0]
    assert w.get_value().dtype == numpy.float32 and b.get_value().dtype == numpy.float32


# ---------------------------------------------------------------------------------------
# deeplearning.net "Classifying MNIST digits using Logistic Regression" (logistic_sgd.py),
# on a small synthetic data set: shared datasets, minibatches through ``givens``.
# ---------------------------------------------------------------------------------------

def _softmax(z):
    e = T.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class LogisticRegression(object):
    def __init__(self, input, n_in, n_out):
        self.W = theano.shared(
            value=numpy.zeros((n_in, n_out), dtype=theano.config.floatX), name='W', borrow=True)
        self.b = theano.shared(
            value=numpy.zeros((n_out,), dtype=theano.config.floatX), name='b', borrow=True)
        try:
            softmax = T.nnet.softmax
        except (ImportError, AttributeError):   # CHANGED: until nnthe.nnet exists
            softmax = _softmax
        self.p_y_given_x = softmax(T.dot(input, self.W) + self.b)
        self.y_pred = T.argmax(self.p_y_given_x, axis=1)
        self.params = [self.W, self.b]
        self.input = input

    def negative_log_likelihood(self, y):
        return -T.mean(T.log(self.p_y_given_x)[T.arange(y.shape[0]), y])

    def errors(self, y):
        if y.ndim != self.y_pred.ndim:
            raise TypeError('y should have the same shape as self.y_pred',
                            ('y', y.type, 'y_pred', self.y_pred.type))
        if y.dtype.startswith('int'):
            return T.mean(T.neq(self.y_pred, y))
        else:
            raise NotImplementedError()


def shared_dataset(data_xy, borrow=True):
    data_x, data_y = data_xy
    shared_x = theano.shared(numpy.asarray(data_x, dtype=theano.config.floatX), borrow=borrow)
    shared_y = theano.shared(numpy.asarray(data_y, dtype=theano.config.floatX), borrow=borrow)
    return shared_x, T.cast(shared_y, 'int32')


def test_logistic_sgd_with_givens_minibatches():
    rng = numpy.random.RandomState(2)
    centers = rng.randn(3, 20) * 3
    labels = rng.randint(0, 3, size=600)
    data = centers[labels] + rng.randn(600, 20)
    train_set_x, train_set_y = shared_dataset((data[:500], labels[:500]))
    test_set_x, test_set_y = shared_dataset((data[500:], labels[500:]))
    batch_size = 50
    learning_rate = 0.13
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size

    index = T.lscalar()  # index to a [mini]batch
    x = T.matrix('x')    # data, presented as rasterized images
    y = T.ivector('y')   # labels, presented as 1D vector of [int] labels
    classifier = LogisticRegression(input=x, n_in=20, n_out=3)
    cost = classifier.negative_log_likelihood(y)

    test_model = theano.function(
        inputs=[index],
        outputs=classifier.errors(y),
        givens={
            x: test_set_x[index * batch_size: (index + 1) * batch_size],
            y: test_set_y[index * batch_size: (index + 1) * batch_size]
        }
    )
    g_W = T.grad(cost=cost, wrt=classifier.W)
    g_b = T.grad(cost=cost, wrt=classifier.b)
    updates = [(classifier.W, classifier.W - learning_rate * g_W),
               (classifier.b, classifier.b - learning_rate * g_b)]
    train_model = theano.function(
        inputs=[index],
        outputs=cost,
        updates=updates,
        givens={
            x: train_set_x[index * batch_size: (index + 1) * batch_size],
            y: train_set_y[index * batch_size: (index + 1) * batch_size]
        }
    )
    before = numpy.mean([test_model(i) for i in range(2)])
    costs = []
    for epoch in range(5):
        for minibatch_index in range(n_train_batches):
            costs.append(train_model(minibatch_index))
    after = numpy.mean([test_model(i) for i in range(2)])
    assert costs[-1] < costs[0]
    assert after < before and after < 0.1
    assert classifier.W.get_value().dtype == numpy.float32
