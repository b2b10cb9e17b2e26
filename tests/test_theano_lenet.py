"""Done-when test of issue 16: a DeepLearningTutorials-style LeNet, written as the
tutorial writes it with ``import nnthe as theano; import nnthe.tensor as T`` (conv2d and
pool_2d with Theano's keywords, logistic regression on top, ``theano.function`` with
``givens`` over shared data, SGD updates), trains on the bundled MNIST subset to the
same error rates as a float64 NumPy implementation of the same network written here.
"""
from __future__ import annotations

import numpy as np
import pytest

import nnthe as theano
import nnthe.tensor as T
from nnthe.data.mnist import _load_subset
from nnthe.tensor.nnet import conv2d
from nnthe.tensor.signal import pool

BATCH = 50
LR = 0.1
NKERNS = (4, 8)


# --------------------------- the tutorial's classes -----------------------------------

class LogisticRegression:
    def __init__(self, input, n_in, n_out):
        self.W = theano.shared(value=np.zeros((n_in, n_out), dtype=theano.config.floatX),
                               name="W", borrow=True)
        self.b = theano.shared(value=np.zeros((n_out,), dtype=theano.config.floatX),
                               name="b", borrow=True)
        self.p_y_given_x = T.nnet.softmax(T.dot(input, self.W) + self.b)
        self.y_pred = T.argmax(self.p_y_given_x, axis=1)
        self.params = [self.W, self.b]
        self.input = input

    def negative_log_likelihood(self, y):
        return -T.mean(T.log(self.p_y_given_x)[T.arange(y.shape[0]), y])

    def errors(self, y):
        if y.ndim != self.y_pred.ndim:
            raise TypeError("y should have the same shape as self.y_pred")
        if y.dtype.startswith("int"):
            return T.mean(T.neq(self.y_pred, y))
        raise NotImplementedError()


class HiddenLayer:
    def __init__(self, rng, input, n_in, n_out, W=None, b=None, activation=T.tanh):
        self.input = input
        if W is None:
            W_values = np.asarray(rng.uniform(low=-np.sqrt(6.0 / (n_in + n_out)),
                                              high=np.sqrt(6.0 / (n_in + n_out)),
                                              size=(n_in, n_out)), dtype=theano.config.floatX)
            W = theano.shared(value=W_values, name="W", borrow=True)
        if b is None:
            b = theano.shared(value=np.zeros((n_out,), dtype=theano.config.floatX), name="b",
                              borrow=True)
        self.W = W
        self.b = b
        lin_output = T.dot(input, self.W) + self.b
        self.output = lin_output if activation is None else activation(lin_output)
        self.params = [self.W, self.b]


class LeNetConvPoolLayer:
    def __init__(self, rng, input, filter_shape, image_shape, poolsize=(2, 2)):
        assert image_shape[1] == filter_shape[1]
        self.input = input
        fan_in = np.prod(filter_shape[1:])
        fan_out = filter_shape[0] * np.prod(filter_shape[2:]) // np.prod(poolsize)
        W_bound = np.sqrt(6.0 / (fan_in + fan_out))
        self.W = theano.shared(np.asarray(rng.uniform(low=-W_bound, high=W_bound, size=filter_shape),
                                          dtype=theano.config.floatX), borrow=True)
        b_values = np.zeros((filter_shape[0],), dtype=theano.config.floatX)
        self.b = theano.shared(value=b_values, borrow=True)
        conv_out = conv2d(input=input, filters=self.W, filter_shape=filter_shape,
                          input_shape=image_shape)
        pooled_out = pool.pool_2d(input=conv_out, ws=poolsize, ignore_border=True)
        self.output = T.tanh(pooled_out + self.b.dimshuffle("x", 0, "x", "x"))
        self.params = [self.W, self.b]
        self.input = input


def shared_dataset(data_xy, borrow=True):
    data_x, data_y = data_xy
    shared_x = theano.shared(np.asarray(data_x, dtype=theano.config.floatX), borrow=borrow)
    shared_y = theano.shared(np.asarray(data_y, dtype=theano.config.floatX), borrow=borrow)
    return shared_x, T.cast(shared_y, "int32")


def evaluate_lenet5(train, test, n_epochs, learning_rate=LR, nkerns=NKERNS,
                    batch_size=BATCH, seed=23455):
    rng = np.random.RandomState(seed)
    train_set_x, train_set_y = shared_dataset(train)
    test_set_x, test_set_y = shared_dataset(test)
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size
    n_test_batches = test_set_x.get_value(borrow=True).shape[0] // batch_size

    index = T.lscalar()
    x = T.matrix("x")
    y = T.ivector("y")
    layer0_input = x.reshape((batch_size, 1, 28, 28))
    layer0 = LeNetConvPoolLayer(rng, input=layer0_input, image_shape=(batch_size, 1, 28, 28),
                                filter_shape=(nkerns[0], 1, 5, 5), poolsize=(2, 2))
    layer1 = LeNetConvPoolLayer(rng, input=layer0.output,
                                image_shape=(batch_size, nkerns[0], 12, 12),
                                filter_shape=(nkerns[1], nkerns[0], 5, 5), poolsize=(2, 2))
    layer2_input = layer1.output.flatten(2)
    layer2 = HiddenLayer(rng, input=layer2_input, n_in=nkerns[1] * 4 * 4, n_out=50,
                         activation=T.tanh)
    layer3 = LogisticRegression(input=layer2.output, n_in=50, n_out=10)
    cost = layer3.negative_log_likelihood(y)

    test_model = theano.function(
        [index], layer3.errors(y),
        givens={x: test_set_x[index * batch_size:(index + 1) * batch_size],
                y: test_set_y[index * batch_size:(index + 1) * batch_size]})
    params = layer3.params + layer2.params + layer1.params + layer0.params
    initial = [p.get_value() for p in params]
    grads = T.grad(cost, params)
    updates = [(param_i, param_i - learning_rate * grad_i)
               for param_i, grad_i in zip(params, grads)]
    train_model = theano.function(
        [index], cost, updates=updates,
        givens={x: train_set_x[index * batch_size:(index + 1) * batch_size],
                y: train_set_y[index * batch_size:(index + 1) * batch_size]})

    costs, test_errors = [], []
    for epoch in range(n_epochs):
        for minibatch_index in range(n_train_batches):
            costs.append(float(train_model(minibatch_index)))
        test_errors.append(float(np.mean([test_model(i) for i in range(n_test_batches)])))
    return initial, np.array(costs), np.array(test_errors)


# --------------------------- the float64 NumPy reference ------------------------------

def _im2col(x, kh, kw):
    """(N, C, H, W) -> (N, C*kh*kw, OH*OW) patches, built from kh*kw slice copies."""
    n, c, h, w = x.shape
    oh, ow = h - kh + 1, w - kw + 1
    cols = np.empty((n, c, kh, kw, oh, ow))
    for a in range(kh):
        for b in range(kw):
            cols[:, :, a, b] = x[:, :, a:a + oh, b:b + ow]
    return cols.reshape(n, c * kh * kw, oh * ow)


def _conv(x, w):
    """'valid' true convolution (filters flipped), as Theano's conv2d."""
    k, c, kh, kw = w.shape
    cols = _im2col(x, kh, kw)
    wf = w[:, :, ::-1, ::-1].reshape(k, -1)
    oh, ow = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    return np.matmul(wf, cols).reshape(len(x), k, oh, ow), cols


def _conv_back(cols, w, gy, need_gx=True):
    k, c, kh, kw = w.shape
    n, _, oh, ow = gy.shape
    g = gy.reshape(n, k, oh * ow)
    gw = np.matmul(g, cols.transpose(0, 2, 1)).sum(axis=0).reshape(k, c, kh, kw)[:, :, ::-1, ::-1]
    if not need_gx:
        return gw, None
    wf = w[:, :, ::-1, ::-1].reshape(k, -1)
    gcols = np.matmul(wf.T, g).reshape(n, c, kh, kw, oh, ow)
    gx = np.zeros((n, c, oh + kh - 1, ow + kw - 1))
    for a in range(kh):
        for b in range(kw):
            gx[:, :, a:a + oh, b:b + ow] += gcols[:, :, a, b]
    return gw, gx


def _pool(x):
    n, c, h, w = x.shape
    win = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    first = np.argmax(win, axis=-1)  # ties go to the first maximum, as nnthe's pool gradient
    return win.max(axis=-1), first


def _unpool(gy, first, shape):
    n, c, h, w = shape
    onehot = np.eye(4)[first] * gy[..., None]                     # (N, C, H/2, W/2, 4)
    return onehot.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(shape)


def reference_lenet(initial, train, test, n_epochs, learning_rate=LR, batch_size=BATCH):
    W3, b3, W2, b2, W1, b1, W0, b0 = [np.asarray(p, dtype=np.float64) for p in initial]
    X, Y = train
    Xt, Yt = test

    def forward(xb):
        x0 = xb.reshape(-1, 1, 28, 28).astype(np.float64)
        c0, win0 = _conv(x0, W0)
        p0, first0 = _pool(c0)
        h0 = np.tanh(p0 + b0[None, :, None, None])
        c1, win1 = _conv(h0, W1)
        p1, first1 = _pool(c1)
        h1 = np.tanh(p1 + b1[None, :, None, None])
        f = h1.reshape(len(x0), -1)
        h2 = np.tanh(f @ W2 + b2)
        z = h2 @ W3 + b3
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return p, (win0, c0.shape, first0, h0, win1, c1.shape, first1, h1, f, h2)

    costs, test_errors = [], []
    for epoch in range(n_epochs):
        for i in range(len(X) // batch_size):
            xb, yb = X[i * batch_size:(i + 1) * batch_size], Y[i * batch_size:(i + 1) * batch_size]
            p, (win0, s0, first0, h0, win1, s1, first1, h1, f, h2) = forward(xb)
            costs.append(-np.mean(np.log(p[np.arange(len(yb)), yb])))
            dz = p.copy()
            dz[np.arange(len(yb)), yb] -= 1
            dz /= len(yb)
            gW3, gb3 = h2.T @ dz, dz.sum(0)
            da2 = (dz @ W3.T) * (1 - h2 ** 2)
            gW2, gb2 = f.T @ da2, da2.sum(0)
            dp1 = (da2 @ W2.T).reshape(h1.shape) * (1 - h1 ** 2)
            gb1 = dp1.sum(axis=(0, 2, 3))
            gW1, dh0 = _conv_back(win1, W1, _unpool(dp1, first1, s1))
            dp0 = dh0 * (1 - h0 ** 2)
            gb0 = dp0.sum(axis=(0, 2, 3))
            gW0, _ = _conv_back(win0, W0, _unpool(dp0, first0, s0), need_gx=False)
            for param, g in ((W3, gW3), (b3, gb3), (W2, gW2), (b2, gb2), (W1, gW1), (b1, gb1),
                             (W0, gW0), (b0, gb0)):
                param -= learning_rate * g
        errs = [np.mean(np.argmax(forward(Xt[j * batch_size:(j + 1) * batch_size])[0], axis=1)
                        != Yt[j * batch_size:(j + 1) * batch_size])
                for j in range(len(Xt) // batch_size)]
        test_errors.append(float(np.mean(errs)))
    return np.array(costs), np.array(test_errors)


def _mnist(n_train, n_test):
    # The subset bundled with nnthe (verified against its checksums), never a download.
    (X, Y), (Xt, Yt) = _load_subset()
    return (X[:n_train].reshape(n_train, -1), Y[:n_train]), (Xt[:n_test].reshape(n_test, -1), Yt[:n_test])


def _check_lenet(n_train, n_test, epochs, final_cost, final_error):
    train, test = _mnist(n_train, n_test)
    initial, costs, test_errors = evaluate_lenet5(train, test, epochs)
    ref_costs, ref_errors = reference_lenet(initial, train, test, epochs)
    assert len(costs) == epochs * (n_train // BATCH)
    # It learns: from ln(10) down, and far better than chance (0.9) on held-out images.
    assert costs[0] == pytest.approx(np.log(10), rel=1e-3) and costs[-10:].mean() < final_cost
    assert test_errors[-1] < final_error
    # The same training run: float32 nnthe follows the float64 reference step by step
    # (measured: within 3e-7 over 160 steps)...
    np.testing.assert_allclose(costs, ref_costs, rtol=1e-4, atol=1e-4)
    # ...to the same error rates (at most 1 of the test images differs).
    np.testing.assert_allclose(test_errors, ref_errors, atol=1.0 / n_test + 1e-7)


def test_lenet_tutorial_matches_float64_reference():
    # 60 SGD steps: a few seconds.
    _check_lenet(n_train=1000, n_test=500, epochs=3, final_cost=1.6, final_error=0.5)


@pytest.mark.slow
def test_lenet_tutorial_matches_float64_reference_longer():
    # 160 steps on 2,000 images; ~10 s on a loaded 2-core machine.
    _check_lenet(n_train=2000, n_test=1000, epochs=4, final_cost=0.9, final_error=0.25)
