"""nnthe.metrics: accuracy and top_k_accuracy."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe import metrics


def test_accuracy_int_and_onehot(rng):
    s = rng.normal(size=(50, 6)).astype("float32")
    y = rng.integers(0, 6, size=50).astype("int32")
    ss, ys, ohs = T.matrix("s", shape=(None, 6)), T.ivector("y"), T.matrix("t", shape=(None, 6))
    acc = nnthe.function([ss, ys], metrics.accuracy(ss, ys))(s, y)
    assert acc.dtype == np.float32
    np.testing.assert_allclose(acc, (s.argmax(1) == y).mean())
    acc2 = nnthe.function([ss, ohs], metrics.accuracy(ss, ohs))(s, np.eye(6, dtype="float32")[y])
    np.testing.assert_allclose(acc2, acc)


@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_top_k(rng, k):
    s = rng.normal(size=(40, 6))
    y = rng.integers(0, 6, size=40).astype("int64")
    ss, ys = T.dmatrix("s", shape=(None, 6)), T.lvector("y")
    got = nnthe.function([ss, ys], metrics.top_k_accuracy(ss, ys, k=k))(s, y)
    topk = np.argsort(-s, axis=1)[:, :k]
    np.testing.assert_allclose(got, np.mean([y[i] in topk[i] for i in range(40)]))


def test_errors():
    s = T.matrix("s", shape=(None, 4))
    with pytest.raises(TypeError, match="class-id labels must be integers"):
        metrics.accuracy(s, T.vector("y"))
    with pytest.raises(TypeError, match="labels must have 1 dimensions"):
        metrics.accuracy(s, T.tensor3("y"))
    with pytest.raises(ValueError, match="k must be a positive int"):
        metrics.top_k_accuracy(s, T.ivector("y"), k=0)
    with pytest.raises(ValueError, match="static number of classes"):
        metrics.top_k_accuracy(T.matrix("u"), T.ivector("y"), k=2)
    with pytest.raises(TypeError, match="class axis"):
        metrics.accuracy(T.scalar("z"), T.ivector("y"))
