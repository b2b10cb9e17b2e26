"""Profiling compiled functions."""
import numpy as np

import nnthe
import nnthe.tensor as T


def test_profile_summary_lists_ops_calls_and_compile_phases(capsys):
    X = T.matrix("X", shape=(None, 8))
    W = nnthe.shared(np.ones((8, 4), "float32"), name="W")
    y = T.tanh(T.dot(X, W)).sum()
    f = nnthe.function([X], y, profile=True, name="probe")
    for _ in range(3):
        f(np.ones((5, 8), "float32"))
    text = f.profile.summary()
    assert "Dot" in text and "tanh" in text
    assert "Compile time" in text and "rewrite" in text and "link" in text
    by_type = f.profile.by_op_type()
    assert by_type["Dot"][1] == 3
    assert abs(sum(t for t, _ in by_type.values()) - f.profile.total_time()) < 1e-9
    assert "probe" in capsys.readouterr().out
