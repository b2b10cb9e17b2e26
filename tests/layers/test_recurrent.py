"""Recurrent layers: equal to torch.nn.RNN/LSTM/GRU on the same weights (outputs, final
states, gradients), masks, go_backwards, Bidirectional, dropout, clipping, stacking."""
import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe import layers

B, STEPS, F, U = 3, 5, 4, 6
rng = np.random.default_rng(0)


def _x(dtype='float64'):
    return T.tensor3('x', dtype=dtype, shape=(None, STEPS, F))


def _sd(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


PAIRS = [("LSTM", "LSTM"), ("GRU", "GRU"), ("SimpleRNN", "RNN")]


@pytest.mark.parametrize("ours,theirs", PAIRS)
def test_equal_to_torch_outputs_states_and_gradients(ours, theirs):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    tm = getattr(torch.nn, theirs)(F, U, batch_first=True).double()
    layer = getattr(layers, ours)(U, return_sequences=True, return_state=True, dtype='float64')
    x = _x()
    h0 = T.dmatrix('h0')
    init = [h0, T.dmatrix('c0')] if ours == "LSTM" else h0
    outs = layer(x, initial_state=init)
    layer.load_torch_weights(_sd(tm))
    cost = (outs[0] ** 2).sum() + outs[1].sum() * 3
    wrt = [x, layer.W_ih, layer.W_hh]
    ins = [x] + (init if isinstance(init, list) else [init])
    f = nnthe.function(ins, outs + nnthe.grad(cost, wrt))
    xv = rng.normal(size=(B, STEPS, F))
    h0v = rng.normal(size=(B, U))
    c0v = rng.normal(size=(B, U))
    got = f(xv, h0v, c0v) if ours == "LSTM" else f(xv, h0v)

    xt = torch.tensor(xv, requires_grad=True)
    h0t = torch.tensor(h0v[None])
    ref = tm(xt, (h0t, torch.tensor(c0v[None]))) if ours == "LSTM" else tm(xt, h0t)
    seq, st = ref
    states = list(st) if ours == "LSTM" else [st]
    np.testing.assert_allclose(got[0], seq.detach().numpy(), atol=1e-12)
    for k, s in enumerate(states):
        np.testing.assert_allclose(got[1 + k], s[0].detach().numpy(), atol=1e-12)
    tcost = (seq ** 2).sum() + states[0].sum() * 3
    tcost.backward()
    n_out = len(outs)
    np.testing.assert_allclose(got[n_out], xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(got[n_out + 1], tm.weight_ih_l0.grad.numpy().T, atol=1e-10)
    np.testing.assert_allclose(got[n_out + 2], tm.weight_hh_l0.grad.numpy().T, atol=1e-10)


def test_bidirectional_equals_torch_bidirectional_lstm():
    torch = pytest.importorskip("torch")
    torch.manual_seed(2)
    tm = torch.nn.LSTM(F, U, batch_first=True, bidirectional=True).double()
    bi = layers.Bidirectional(layers.LSTM(U, return_sequences=True, dtype='float64'))
    x = _x()
    y = bi(x)
    assert y.type.shape == (None, STEPS, 2 * U)
    bi.load_torch_weights(_sd(tm))
    xv = rng.normal(size=(B, STEPS, F))
    np.testing.assert_allclose(nnthe.function([x], y)(xv), tm(torch.tensor(xv))[0].detach().numpy(),
                               atol=1e-12)


def test_last_output_and_static_shapes():
    x = T.tensor3('x', shape=(None, STEPS, F))
    assert layers.LSTM(U)(x).type.shape == (None, U)
    assert layers.GRU(U, return_sequences=True)(x).type.shape == (None, STEPS, U)
    out, h, c = layers.LSTM(U, return_state=True)(x)
    assert h.type.shape == (None, U) and c.type.shape == (None, U)


def test_mask_keeps_state_and_zeroes_outputs_of_padding():
    x = _x(); m = T.dmatrix('m')
    layer = layers.GRU(U, return_sequences=True, return_state=True, dtype='float64')
    seq, h = layer(x, mask=m)
    f = nnthe.function([x, m], [seq, h])
    xv = rng.normal(size=(B, STEPS, F))
    mv = np.ones((B, STEPS)); mv[0, 3:] = 0; mv[1, 1:] = 0
    s, hv = f(xv, mv)
    assert np.all(s[0, 3:] == 0) and np.all(s[1, 1:] == 0)
    # the final state of a padded sequence is its state at its last real step
    x2 = T.tensor3('x2', dtype='float64', shape=(None, None, F))
    short = layer(x2)
    g = nnthe.function([x2], short[1])
    np.testing.assert_allclose(hv[0], g(xv[:1, :3])[0], atol=1e-12)
    np.testing.assert_allclose(hv[1], g(xv[1:2, :1])[0], atol=1e-12)
    np.testing.assert_allclose(s[2], nnthe.function([x2], short[0])(xv[2:3])[0], atol=1e-12)


def test_go_backwards_reads_the_sequence_reversed():
    x = _x()
    fwd = layers.SimpleRNN(U, dtype='float64')
    y1 = fwd(x)
    bwd = layers.SimpleRNN(U, go_backwards=True, dtype='float64')
    y2 = bwd(x)
    for a, b in zip(bwd.params, fwd.params):
        a.set_value(b.get_value())
    xv = rng.normal(size=(B, STEPS, F))
    f = nnthe.function([x], [y1, y2])
    r1 = f(xv[:, ::-1].copy())[0]
    np.testing.assert_allclose(f(xv)[1], r1, atol=1e-12)


def test_dropout_uses_one_mask_for_every_step():
    x = T.tensor3('x', shape=(None, STEPS, F))
    layer = layers.SimpleRNN(U, activation=None, dropout=0.5, recurrent_dropout=0.5, seed=0,
                             return_sequences=True)
    y = layer(x, training=True)
    assert layer.random_state_variables()
    for n in nnthe.core.graph.toposort([y]):
        if type(n.op).__name__ == "Scan":
            inner = {type(k.op).__name__ for k in nnthe.core.graph.toposort(n.op.inner_outputs)}
            assert "RandomDraw" not in inner       # the masks are drawn outside the loop
    f = nnthe.function([x], y)
    a, b = f(np.ones((2, STEPS, F), 'float32')), f(np.ones((2, STEPS, F), 'float32'))
    assert not np.allclose(a, b)                    # new masks on each call
    assert np.allclose(nnthe.function([x], layer(x))(np.ones((2, STEPS, F), 'float32')),
                       nnthe.function([x], layer(x))(np.ones((2, STEPS, F), 'float32')))


def test_grad_clipping_bounds_the_recurrent_gradient():
    x = _x()
    h0 = T.dmatrix('h0')
    clipped = layers.SimpleRNN(U, grad_clipping=1e-3, dtype='float64')
    free = layers.SimpleRNN(U, dtype='float64')
    y1, y2 = clipped(x, initial_state=h0), free(x, initial_state=h0)
    for a, b in zip(clipped.params, free.params):
        a.set_value(b.get_value() * 3)
        b.set_value(b.get_value() * 3)
    g1, g2 = nnthe.grad(y1.sum(), h0), nnthe.grad(y2.sum(), h0)
    f = nnthe.function([x, h0], [g1, g2])
    a, b = f(rng.normal(size=(B, STEPS, F)), rng.normal(size=(B, U)))
    assert np.abs(a).max() <= 1e-3 + 1e-12 < np.abs(b).max()


def test_embedding_stacking_and_training_step():
    ids = T.imatrix('ids'); y = T.ivector('y')
    model = layers.Sequential([layers.Embedding(20, 8), layers.LSTM(16, return_sequences=True),
                               layers.GRU(16), layers.Dense(2)])
    logits = model(ids, training=True)
    loss = nnthe.losses.softmax_cross_entropy(logits, y).mean()
    opt = nnthe.optim.Adam(learning_rate=0.05)
    step = nnthe.function([ids, y], loss, updates=opt.updates(loss, model.trainable_params))
    X = rng.integers(0, 20, size=(16, 6)).astype('int32')
    Y = (X[:, 0] > 9).astype('int32')                 # remember the first token
    first = float(step(X, Y))
    for _ in range(60):
        last = float(step(X, Y))
    assert last < first * 0.3
    names = list(model.named_params())
    assert "1/W_ih" in names and "2/b_hh" in names


def test_errors():
    with pytest.raises(ValueError, match="units"):
        layers.LSTM(0)
    with pytest.raises(ValueError, match="dropout"):
        layers.GRU(3, dropout=1.0)
    with pytest.raises(TypeError, match="did you mean"):
        layers.LSTM(3, return_sequence=True)
    x = T.tensor3('x', shape=(None, STEPS, F))
    layer = layers.LSTM(U)
    with pytest.raises(ValueError, match="initial_state needs 2"):
        layer(x, initial_state=T.matrix())
    with pytest.raises(TypeError, match=r"\(batch, time, features\)"):
        layers.GRU(3)(T.matrix('m', shape=(None, 4)))
    layer(x)
    with pytest.raises(KeyError, match="weight_ih_l0"):
        layer.load_torch_weights({})
    bad = {"weight_ih_l0": np.zeros((4 * U, F + 1)), "weight_hh_l0": np.zeros((4 * U, U))}
    before = layer.W_hh.get_value()
    with pytest.raises(ValueError, match=r"weight_ih_l0.*expected \(24, 4\)"):
        layer.load_torch_weights(bad)
    np.testing.assert_array_equal(layer.W_hh.get_value(), before)
    with pytest.raises(RuntimeError, match="call the layer"):
        layers.GRU(3).load_torch_weights({})
    with pytest.raises(TypeError, match="Bidirectional wraps"):
        layers.Bidirectional(layers.Dense(3))


def test_generic_torch_loader_uses_the_layer_mapping():
    torch = pytest.importorskip("torch")
    from nnthe.layers.torch_weights import load_torch_state_dict
    model = layers.Sequential([layers.LSTM(U, return_sequences=True, dtype='float64'),
                               layers.Dense(3, num_leading_axes=2, dtype='float64')])
    x = _x()
    y = model(x)
    tl, td = torch.nn.LSTM(F, U, batch_first=True).double(), torch.nn.Linear(U, 3).double()
    sd = {f"0.{k}": v for k, v in _sd(tl).items()}
    sd.update({f"1.{k}": v for k, v in _sd(td).items()})
    load_torch_state_dict(model, sd)
    xv = rng.normal(size=(B, STEPS, F))
    np.testing.assert_allclose(nnthe.function([x], y)(xv),
                               td(tl(torch.tensor(xv))[0]).detach().numpy(), atol=1e-12)
