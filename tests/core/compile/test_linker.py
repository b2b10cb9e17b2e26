"""The straight-line executor: generated code, buffer release, aliasing, trust_input,
and run-time errors that name their node."""
import numpy as np
import pytest

import nnthe
import nnthe.tensor as T


def test_generated_code_is_straight_line_with_early_release():
    x = T.vector("x")
    y = T.exp(T.sin(x) * 2) + T.cos(x)
    f = nnthe.function([x], y, mode="FAST_COMPILE")
    src = f.source
    assert "for " not in src and "while " not in src
    assert src.count(" = k") == 5  # one line per node
    assert "del " in src  # intermediates are released as soon as they are dead
    np.testing.assert_allclose(f(np.array([0.5], "float32")),
                               np.exp(np.sin([0.5]) * 2) + np.cos([0.5]), rtol=1e-6)


def test_a_dead_intermediate_is_deleted_before_the_next_node_runs():
    x = T.vector("x")
    y = T.exp(T.sin(x)).sum()
    f = nnthe.function([x], y, mode="FAST_COMPILE")
    lines = [l.strip() for l in f.source.splitlines()]
    sin_line = next(k for k, l in enumerate(lines) if l.startswith("t0 ="))
    # t0 (sin's result) is read by exp only: it is deleted right after exp runs.
    assert lines[sin_line + 1].startswith("t1 =") and lines[sin_line + 2] == "del t0"


def test_outputs_are_never_aliased_to_inputs_shared_or_each_other():
    x = T.vector("x")
    s = nnthe.shared(np.arange(3, dtype="float32"), name="s")
    f = nnthe.function([x], [x, s, s[1:], x.T])
    v = np.zeros(3, "float32")
    a, b, c, d = f(v)
    a[:] = 7
    b[:] = 7
    c[:] = 7
    d[:] = 7
    np.testing.assert_array_equal(v, 0)
    np.testing.assert_array_equal(s.get_value(), [0, 1, 2])


def test_update_values_are_not_aliased_to_returned_outputs():
    s = nnthe.shared(np.zeros(2, "float32"))
    x = T.vector("x")
    new = s + x
    f = nnthe.function([x], new, updates={s: new})
    out = f(np.ones(2, "float32"))
    out[:] = 100
    np.testing.assert_array_equal(s.get_value(), [1, 1])


def test_update_with_an_input_stores_a_copy():
    s = nnthe.shared(np.zeros(2, "float32"))
    x = T.vector("x")
    f = nnthe.function([x], [], updates={s: x})
    v = np.ones(2, "float32")
    f(v)
    v[:] = 5
    np.testing.assert_array_equal(s.get_value(), [1, 1])


def test_trust_input_skips_checks_and_is_faster_to_call():
    x = T.vector("x")
    f = nnthe.function([x], x * 2)
    with pytest.raises(TypeError, match="input 0"):
        f([1, 2.5, "a"])
    f.trust_input = True
    np.testing.assert_array_equal(f(np.ones(2, "float32")), [2, 2])
    assert "_chk" not in f._fast_program.source
    f.trust_input = False
    with pytest.raises(TypeError, match="1-d array"):
        f(np.ones((2, 2), "float32"))


def test_wrong_number_of_arguments_names_the_inputs():
    x, y = T.vector("x"), T.vector("y")
    f = nnthe.function([x, y], x + y)
    with pytest.raises(TypeError, match=r"takes 2 input\(s\) \(x, y\), got 1"):
        f(np.ones(2, "float32"))


def test_runtime_error_names_node_shapes_and_source_line():
    x = T.matrix("x")
    w = T.matrix("w")
    y = T.dot(x, w)  # the line the error must name
    f = nnthe.function([x, w], y)
    with pytest.raises(ValueError) as info:
        f(np.ones((2, 3), "float32"), np.ones((4, 5), "float32"))
    msg = str(info.value)
    assert "Dot" in msg
    assert "float32(2, 3)" in msg and "float32(4, 5)" in msg
    assert "test_linker.py" in msg and "y = T.dot(x, w)" in msg
    assert isinstance(info.value.__cause__, ValueError)


def test_seed_call_is_cheap():
    import timeit

    x = T.scalar("x")
    f = nnthe.function([x], nnthe.grad(x ** 2 + 3 * x + 1, x))
    assert f(2) == 7
    per_call = min(timeit.repeat(lambda: f(2), number=2000, repeat=5)) / 2000
    # The target is ~3 us; allow a slow, shared CI machine a wide margin.
    assert per_call < 100e-6


def test_matrix_product_buffers_are_reused_only_when_private():
    X = T.matrix("X", shape=(None, 3))
    W = nnthe.shared(np.ones((3, 2), "float32"), name="W")
    hidden = T.tanh(T.dot(X, W))       # the dot's result is private: buffered
    out = T.dot(X, W)                  # returned to the caller: never buffered
    f = nnthe.function([X], [hidden.sum(), out])
    x = np.ones((4, 3), "float32")
    s1, o1 = f(x)
    s2, o2 = f(2 * x)
    np.testing.assert_array_equal(o1, 3)  # the first result is untouched by the second call
    np.testing.assert_array_equal(o2, 6)
    assert s1 == pytest.approx(8 * np.tanh(3), rel=1e-6)
    assert s2 == pytest.approx(8 * np.tanh(6), rel=1e-6)
    # a different batch size gets a new buffer
    s3, o3 = f(np.ones((5, 3), "float32"))
    assert o3.shape == (5, 2)


def test_buffered_product_feeding_an_update_is_not_reused():
    X = T.matrix("X", shape=(2, 2))
    s = nnthe.shared(np.zeros((2, 2), "float32"))
    f = nnthe.function([X], [], updates={s: T.dot(X, X) + 1})
    f(np.eye(2, dtype="float32"))
    first = s.get_value(borrow=True)
    f(2 * np.eye(2, dtype="float32"))
    np.testing.assert_array_equal(first, np.eye(2) + 1)
    np.testing.assert_array_equal(s.get_value(), 4 * np.eye(2) + 1)


def test_two_threads_calling_one_function_get_their_own_results():
    # The matrix product writes into a buffer kept between calls; without the lock two
    # threads overwrote each other's intermediates (hundreds of wrong results in 600).
    import threading

    rng = np.random.default_rng(0)
    # Products large enough that BLAS releases the GIL mid-call (94 of 400 calls were
    # wrong before the lock, on this 2-core machine).
    W = nnthe.shared(rng.normal(size=(256, 256)).astype("float32"))
    W2 = nnthe.shared(rng.normal(size=(256, 256)).astype("float32"))
    x = T.matrix("x", shape=(None, 256))
    f = nnthe.function([x], T.dot(T.tanh(T.dot(x, W)), W2).sum(axis=1))
    assert "_lock" in f.source
    inputs = [rng.normal(size=(128, 256)).astype("float32") for _ in range(8)]
    expected = [f(a) for a in inputs]
    wrong = []

    def worker(k):
        for i in range(60):
            j = (k + i) % len(inputs)
            if not np.array_equal(f(inputs[j]), expected[j]):
                wrong.append(j)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert wrong == []


def test_a_function_without_buffers_takes_no_lock():
    x = T.vector("x")
    assert "_lock" not in nnthe.function([x], T.exp(x)).source
