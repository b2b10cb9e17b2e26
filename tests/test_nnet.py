"""The T.nnet namespace exposes the neural-network ops under Theano's names."""
from __future__ import annotations

import numpy as np

import nnthe
import nnthe.tensor as T


def test_namespace_names():
    for name in ["conv2d", "conv_output_shape", "pool_2d", "pool_output_shape", "relu", "elu",
                 "selu", "gelu", "silu", "swish", "hard_sigmoid", "softsign", "sigmoid",
                 "softplus", "softmax", "log_softmax", "logsumexp", "one_hot",
                 "categorical_crossentropy", "binary_crossentropy",
                 "softmax_cross_entropy_with_logits", "sigmoid_binary_crossentropy",
                 "batch_normalization", "crossentropy_categorical_1hot"]:
        assert callable(getattr(T.nnet, name)), name
    assert nnthe.nnet is T.nnet
    from nnthe.core.nnet.softmax import SoftmaxCrossEntropyWithLogits  # the rewrite's target

    z = T.matrix("z")
    assert isinstance(T.nnet.softmax_cross_entropy_with_logits(z, T.ivector("y")).owner.op,
                      SoftmaxCrossEntropyWithLogits)


def test_mnist_cnn_forward_backward_float32(rng):
    X = T.tensor4("X", shape=(None, 1, 28, 28))
    y = T.ivector("y")
    W1 = nnthe.shared(rng.standard_normal((8, 1, 5, 5)).astype("float32") * 0.1, name="W1")
    W2 = nnthe.shared(rng.standard_normal((8, 8, 5, 5)).astype("float32") * 0.1, name="W2")
    W3 = nnthe.shared(rng.standard_normal((128, 10)).astype("float32") * 0.1, name="W3")
    h = T.nnet.pool_2d(T.nnet.relu(T.nnet.conv2d(X, W1)), (2, 2))
    h = T.nnet.pool_2d(T.nnet.relu(T.nnet.conv2d(h, W2)), (2, 2))
    assert h.type.shape == (None, 8, 4, 4)
    logits = T.dot(h.flatten(2), W3)
    loss = T.nnet.softmax_cross_entropy_with_logits(logits, y).mean()
    grads = nnthe.grad(loss, [W1, W2, W3])
    f = nnthe.function([X, y], [loss] + grads)
    outs = f(rng.standard_normal((4, 1, 28, 28)).astype("float32"), np.array([1, 2, 3, 4], "int32"))
    assert all(o.dtype == np.float32 and np.all(np.isfinite(o)) for o in outs)
