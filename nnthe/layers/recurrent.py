"""Recurrent layers: :class:`SimpleRNN`, :class:`LSTM`, :class:`GRU` and
:class:`Bidirectional`, built on :func:`nnthe.scan`.

Conventions (Keras / Lasagne): inputs are batch-first ``(batch, time, features)``;
``return_sequences`` gives ``(batch, time, units)``, otherwise the last output
``(batch, units)``; ``return_state`` adds the final states. A ``mask`` of shape
``(batch, time)`` (1 for real steps, 0 for padding) keeps the state through padded steps
and gives zero outputs there. ``dropout`` drops input features and
``recurrent_dropout`` hidden units, with one mask per sequence (the same at every step).
``grad_clipping`` clips the gradient flowing into each step's hidden state (Lasagne).

The input projection of all steps is computed before the loop as one matrix product
(``(batch * time, features) @ W_ih``); the loop does only the recurrent product.

Weights, in PyTorch's gate order (so ``load_torch_weights`` only transposes):
``W_ih`` ``(features, G * units)``, ``W_hh`` ``(units, G * units)``, ``b``
``(G * units,)``, with gates ``i, f, g, o`` (LSTM, as Keras's ``i, f, c, o``), ``r, z, n``
(GRU, with a separate recurrent bias ``b_hh``: PyTorch's and Keras's ``reset_after``
form) and one gate for SimpleRNN.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..core.gradient import grad_clip
from ..core.nnet.activations import sigmoid
from ..core.ops.alloc import zeros
from ..core.ops.elemwise import cast
from ..core.ops.join import concatenate
from ..core.ops.linalg import dot
from ..core.ops.shape import reshape, shape_i
from ..core.scan import scan
from ..core.types import fmt_shape
from ..core.variable import TensorVariable, as_tensor_variable
from . import activations as _act
from .base import Layer, Shape
from .noise import _make_stream


class _Recurrent(Layer):
    """What SimpleRNN, LSTM and GRU share: parameters, masks, dropout, the loop."""

    #: Gates per unit (columns of W_ih per unit).
    n_gates = 1
    #: States carried by the loop (h; h and c for the LSTM).
    n_states = 1
    #: The matching torch module, for error messages.
    torch_name = "RNN"

    def __init__(self, units: int, activation: Any = "tanh", return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, grad_clipping: float = 0.0,
                 W_init: Any = "glorot_uniform", U_init: Any = "orthogonal", b_init: Any = "zeros",
                 seed: int | None = None, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{type(self).__name__}: units must be a positive int, got {units!r}")
        for what, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
                raise ValueError(f"{type(self).__name__}: {what} must be in [0, 1), got {rate!r}")
        if not isinstance(grad_clipping, (int, float)) or grad_clipping < 0:
            raise ValueError(f"{type(self).__name__}: grad_clipping must be >= 0, got {grad_clipping!r}")
        self.units = int(units)
        self.activation = _act.get(activation)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.grad_clipping = float(grad_clipping)
        self.W_init, self.U_init, self.b_init = W_init, U_init, b_init
        self._stream = _make_stream(seed, None) if (dropout or recurrent_dropout) else None
        self._extras: tuple = (None, None)

    def random_state_variables(self) -> list:
        return list(self._stream.state_variables().values()) if self._stream is not None else []

    # -- building --------------------------------------------------------------------
    def build(self, input_shape: Shape) -> None:
        self._check_ndim(input_shape, 3, " (batch, time, features)")
        (n_in,) = self._require(input_shape, [2], "the number of input features")
        G, U = self.n_gates, self.units
        self.W_ih = self.add_param("W_ih", (n_in, G * U), self.W_init)
        # Orthogonal per gate block, as Keras does for its recurrent kernel.
        blocks = [self._recurrent_init((U, U)) for _ in range(G)]
        self.W_hh = self.add_param("W_hh", (U, G * U), np.concatenate(blocks, axis=1))
        self.b = self.add_param("b", (G * U,), self.b_init, regularizable=False)

    def _recurrent_init(self, shape: tuple) -> np.ndarray:
        from .. import init as _init

        return _init.get(self.U_init)(shape, dtype=self.param_dtype)

    def output_shape(self, input_shape: Shape) -> Any:
        b, t = input_shape[0], input_shape[1]
        out = (b, t, self.units) if self.return_sequences else (b, self.units)
        if self.return_state:
            return [out] + [(b, self.units)] * self.n_states
        return out

    # -- calling ---------------------------------------------------------------------
    def __call__(self, x: Any, training: bool = False, mask: Any = None,
                 initial_state: Any = None) -> Any:
        """Apply the layer to ``x`` of shape ``(batch, time, features)``.

        Parameters
        ----------
        x : tensor3
        training : bool
            Dropout is active only in the training graph.
        mask : (batch, time) tensor, optional
            1 for real steps, 0 for padding.
        initial_state : tensor or list of tensors ``(batch, units)``, optional
            ``h0`` (and ``c0`` for the LSTM); zeros by default.
        """
        self._extras = (mask, initial_state)
        try:
            return super().__call__(x, training=training)
        finally:
            self._extras = (None, None)

    def _initial_states(self, x: TensorVariable, given: Any) -> list[TensorVariable]:
        if given is None:
            z = zeros((shape_i(x, 0), self.units), dtype=x.type.dtype)
            return [z] * self.n_states
        states = list(given) if isinstance(given, (list, tuple)) else [given]
        if len(states) != self.n_states:
            raise ValueError(f"{self!r}: initial_state needs {self.n_states} tensor(s) "
                             f"(batch, {self.units}), got {len(states)}")
        out = []
        for k, s in enumerate(states):
            s = as_tensor_variable(s)
            if s.type.ndim != 2 or s.type.shape[1] not in (None, self.units):
                raise ValueError(f"{self!r}: initial state {k} must be (batch, {self.units}), got "
                                 f"{fmt_shape(s.type.shape)}")
            out.append(cast(s, x.type.dtype) if s.type.dtype != x.type.dtype else s)
        return out

    def _dropout_mask(self, rate: float, shape: tuple, dtype: str) -> TensorVariable:
        keep = 1.0 - rate
        return self._stream.bernoulli(shape, p=keep, dtype=dtype) * (1.0 / keep)

    def call(self, x: TensorVariable, training: bool = False) -> Any:
        mask, initial_state = self._extras
        if x.type.ndim != 3:
            raise ValueError(f"{self!r} takes (batch, time, features), got {fmt_shape(x.type.shape)}")
        n_in = self.W_ih.type.shape[0]
        if x.type.shape[2] not in (None, n_in):
            raise ValueError(f"{self!r} was built for {n_in} input features, got an input of "
                             f"shape {fmt_shape(x.type.shape)}")
        dtype = x.type.dtype
        batch = shape_i(x, 0) if x.type.shape[0] is None else x.type.shape[0]
        steps = shape_i(x, 1) if x.type.shape[1] is None else x.type.shape[1]
        if training and self.dropout:
            x = x * self._dropout_mask(self.dropout, (batch, n_in), dtype).dimshuffle(0, "x", 1)
        # The input projection of every step at once: one GEMM outside the loop.
        G, U = self.n_gates, self.units
        proj = dot(reshape(x, (-1, n_in)), self.W_ih) + self.b
        proj = reshape(proj, (batch, steps, G * U)).dimshuffle(1, 0, 2)
        seqs = [proj]
        if mask is not None:
            mask = as_tensor_variable(mask)
            if mask.type.ndim != 2:
                raise ValueError(f"{self!r}: mask must be (batch, time), got {fmt_shape(mask.type.shape)}")
            seqs.append(cast(mask, dtype).dimshuffle(1, 0, "x"))
        rec_mask = None
        if training and self.recurrent_dropout:
            rec_mask = self._dropout_mask(self.recurrent_dropout, (batch, U), dtype)
        states0 = self._initial_states(x, initial_state)
        has_mask = mask is not None
        clip = self.grad_clipping

        def step(*args):
            p = args[0]
            m = args[1] if has_mask else None
            prev = list(args[1 + has_mask:1 + has_mask + self.n_states])
            h = prev[0]
            if clip:
                h = grad_clip(h, -clip, clip)
            h_in = h * rec_mask if rec_mask is not None else h
            new = self._step(p, h_in, prev)
            if m is not None:
                new = [m * n + (1 - m) * o for n, o in zip(new, prev)]
                return new + [m * new[0]]
            return new

        outputs_info = list(states0) + ([None] if has_mask else [])
        outs, _ = scan(step, sequences=seqs, outputs_info=outputs_info,
                       non_sequences=[self.W_hh] + self._extra_non_sequences(),
                       go_backwards=self.go_backwards, return_list=True,
                       name=f"{type(self).__name__.lower()}")
        states = outs[:self.n_states]
        seq_out = outs[self.n_states] if has_mask else states[0]
        if self.return_sequences:
            out = seq_out.dimshuffle(1, 0, 2)
        else:
            out = seq_out[-1]
        if self.return_state:
            return [out] + [s[-1] for s in states]
        return out

    def _extra_non_sequences(self) -> list:
        return []

    def _step(self, p: TensorVariable, h: TensorVariable, prev: list) -> list:
        raise NotImplementedError

    # -- torch interchange -----------------------------------------------------------
    def _torch_arrays(self, state_dict: Mapping[str, Any], suffix: str = "") -> dict:
        G, U = self.n_gates, self.units
        if not self.built:
            raise RuntimeError(f"{self!r}: call the layer on an input first (its input size "
                               "is known only then), then load the weights")
        n_in = self.W_ih.type.shape[0]
        want = {f"weight_ih_l0{suffix}": (G * U, n_in), f"weight_hh_l0{suffix}": (G * U, U),
                f"bias_ih_l0{suffix}": (G * U,), f"bias_hh_l0{suffix}": (G * U,)}
        got = {}
        for k, shape in want.items():
            if k not in state_dict:
                if k.startswith("bias"):
                    got[k] = np.zeros(shape, dtype=self.param_dtype)
                    continue
                raise KeyError(f"{self!r}.load_torch_weights: the state dict has no {k!r} (keys: "
                               f"{sorted(state_dict)}); expected a single-layer torch.nn."
                               f"{self.torch_name}")
            arr = np.asarray(state_dict[k].detach().cpu().numpy() if hasattr(state_dict[k], "detach")
                             else state_dict[k])
            if arr.shape != shape:
                raise ValueError(f"{self!r}.load_torch_weights: {k!r} has shape {arr.shape}, "
                                 f"expected {shape} (units={U}, features={n_in})")
            got[k] = arr.astype(self.param_dtype)
        return {k.replace(suffix, "") if suffix else k: v for k, v in got.items()}

    def load_torch_weights(self, state_dict: Mapping[str, Any], _suffix: str = "") -> None:
        """Load the ``state_dict()`` of the matching single-layer ``torch.nn`` module
        (``batch_first=True``), as NumPy arrays (or tensors).

        Mapping: ``W_ih = weight_ih_l0.T``, ``W_hh = weight_hh_l0.T``, and ``b =
        bias_ih_l0 + bias_hh_l0`` (GRU: ``b = bias_ih_l0``, ``b_hh = bias_hh_l0``). The
        gate order is PyTorch's, so no columns move. Missing biases (``bias=False``) load
        as zeros. Nothing changes unless every array fits.
        """
        a = self._torch_arrays(state_dict, _suffix)
        values = self._from_torch(a)
        for var, val in values:
            if tuple(var.type.shape) != val.shape:
                raise ValueError(f"{self!r}: {var.name} is {var.type.shape}, got {val.shape}")
        for var, val in values:
            var.set_value(np.ascontiguousarray(val))

    def _from_torch(self, a: dict) -> list:
        return [(self.W_ih, a["weight_ih_l0"].T), (self.W_hh, a["weight_hh_l0"].T),
                (self.b, a["bias_ih_l0"] + a["bias_hh_l0"])]


class SimpleRNN(_Recurrent):
    """``h_t = activation(x_t @ W_ih + h_{t-1} @ W_hh + b)`` (``torch.nn.RNN``).

    Parameters
    ----------
    units : int
    activation : str or callable (default tanh)
    return_sequences, return_state, go_backwards : bool
    dropout, recurrent_dropout : float
    grad_clipping : float
        Clip the gradient into each step's hidden state to ``[-g, g]`` (0: off).
    W_init, U_init, b_init : initializers of the input, recurrent and bias weights
    seed : int, optional
        Of the dropout masks.
    name, dtype : see :class:`~nnthe.layers.base.Layer`

    Examples
    --------
    >>> h = layers.SimpleRNN(32)(T.tensor3('x', shape=(None, 10, 8)))
    """

    n_gates, n_states, torch_name = 1, 1, "RNN"

    def _step(self, p, h, prev):
        return [self.activation(p + dot(h, self.W_hh))]



class LSTM(_Recurrent):
    """Long short-term memory (``torch.nn.LSTM``; Keras's ``LSTM`` without peepholes).

    ``i, f, g, o = sigmoid, sigmoid, tanh, sigmoid`` of ``x_t @ W_ih + h @ W_hh + b``
    split in four; ``c_t = f * c + i * g``; ``h_t = o * tanh(c_t)``. States: ``h, c``.
    Parameters as :class:`SimpleRNN`, plus ``forget_bias`` (added to the forget gate's
    initial bias; 1.0 as Keras's ``unit_forget_bias``).

    Examples
    --------
    >>> out, h, c = layers.LSTM(64, return_state=True)(T.tensor3('x', shape=(None, 20, 8)))
    """

    n_gates, n_states, torch_name = 4, 2, "LSTM"

    def __init__(self, units: int, activation: Any = "tanh", return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, grad_clipping: float = 0.0,
                 W_init: Any = "glorot_uniform", U_init: Any = "orthogonal", b_init: Any = "zeros",
                 forget_bias: float = 1.0, seed: int | None = None, name: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__(units, activation, return_sequences, return_state, go_backwards,
                         dropout, recurrent_dropout, grad_clipping, W_init, U_init, b_init,
                         seed, name, dtype)
        self.forget_bias = float(forget_bias)

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        if self.forget_bias:
            b = self.b.get_value()
            b[self.units:2 * self.units] += self.forget_bias
            self.b.set_value(b)

    def _step(self, p, h, prev):
        U = self.units
        z = p + dot(h, self.W_hh)
        i = sigmoid(z[:, :U])
        f = sigmoid(z[:, U:2 * U])
        g = self.activation(z[:, 2 * U:3 * U])
        o = sigmoid(z[:, 3 * U:])
        c = f * prev[1] + i * g
        return [o * self.activation(c), c]


class GRU(_Recurrent):
    """Gated recurrent unit (``torch.nn.GRU``; Keras's ``GRU(reset_after=True)``).

    With ``a = x_t @ W_ih + b`` and ``r_h = h @ W_hh + b_hh`` split in ``r, z, n``:
    ``r = sigmoid(a_r + r_h_r)``, ``z = sigmoid(a_z + r_h_z)``,
    ``n = tanh(a_n + r * r_h_n)``, ``h_t = (1 - z) * n + z * h``.

    Examples
    --------
    >>> h = layers.GRU(64)(T.tensor3('x', shape=(None, 20, 8)))
    """

    n_gates, n_states, torch_name = 3, 1, "GRU"

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        self.b_hh = self.add_param("b_hh", (3 * self.units,), self.b_init, regularizable=False)

    def _extra_non_sequences(self):
        return [self.b_hh]

    def _step(self, p, h, prev):
        U = self.units
        rh = dot(h, self.W_hh) + self.b_hh
        r = sigmoid(p[:, :U] + rh[:, :U])
        z = sigmoid(p[:, U:2 * U] + rh[:, U:2 * U])
        n = self.activation(p[:, 2 * U:] + r * rh[:, 2 * U:])
        return [(1 - z) * n + z * prev[0]]

    def _from_torch(self, a):
        return [(self.W_ih, a["weight_ih_l0"].T), (self.W_hh, a["weight_hh_l0"].T),
                (self.b, a["bias_ih_l0"]), (self.b_hh, a["bias_hh_l0"])]


# The step functions read W_hh through this name so that scan receives it as an
# explicit non-sequence (it is the same variable; the alias documents the intent).
_Recurrent.W_hh_inner = property(lambda self: self.W_hh)


class Bidirectional(Layer):
    """Run a recurrent layer forwards and a copy of it backwards, and merge the outputs.

    Parameters
    ----------
    layer : SimpleRNN, LSTM or GRU
        The forward layer; the backward one is built with the same arguments and
        ``go_backwards`` flipped (or give ``backward_layer``).
    merge_mode : {'concat', 'sum', 'mul', 'ave'}
    backward_layer : layer, optional
    name : str, optional

    With ``return_sequences`` the backward outputs are put back in time order before
    merging (as Keras and ``torch.nn.LSTM(bidirectional=True)`` do).

    Examples
    --------
    >>> y = layers.Bidirectional(layers.LSTM(32, return_sequences=True))(x)
    """

    def __init__(self, layer: _Recurrent, merge_mode: str = "concat",
                 backward_layer: _Recurrent | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        if not isinstance(layer, _Recurrent):
            raise TypeError(f"Bidirectional wraps a SimpleRNN, LSTM or GRU, got {layer!r}")
        if merge_mode not in ("concat", "sum", "mul", "ave"):
            raise ValueError(f"Bidirectional: merge_mode must be 'concat', 'sum', 'mul' or 'ave', "
                             f"got {merge_mode!r}")
        if layer.return_state:
            raise ValueError("Bidirectional: return_state is not supported; wrap a layer without it")
        if backward_layer is None:
            args = dict(layer.__dict__.get("_init_args", {}))
            args.update(go_backwards=not layer.go_backwards, name=None)
            backward_layer = type(layer)(**args)
        self.forward_layer = layer
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode

    def __call__(self, x: Any, training: bool = False, mask: Any = None) -> Any:
        self._mask = mask
        try:
            return super().__call__(x, training=training)
        finally:
            self._mask = None

    def call(self, x: TensorVariable, training: bool = False) -> TensorVariable:
        mask = self.__dict__.get("_mask")
        f = self.forward_layer(x, training=training, mask=mask)
        b = self.backward_layer(x, training=training, mask=mask)
        if self.forward_layer.return_sequences:
            b = b[:, ::-1]
        if self.merge_mode == "concat":
            return concatenate([f, b], axis=-1)
        if self.merge_mode == "sum":
            return f + b
        if self.merge_mode == "mul":
            return f * b
        return (f + b) * 0.5

    def output_shape(self, input_shape: Shape) -> Shape:
        out = self.forward_layer.output_shape(input_shape)
        if self.merge_mode == "concat":
            return tuple(out[:-1]) + (2 * self.forward_layer.units,)
        return out

    def load_torch_weights(self, state_dict: Mapping[str, Any]) -> None:
        """Load a ``torch.nn.LSTM/GRU/RNN(bidirectional=True)`` state dict: the ``*_l0``
        arrays go to the forward layer, the ``*_l0_reverse`` ones to the backward layer."""
        self.forward_layer.load_torch_weights({k: v for k, v in state_dict.items()
                                               if not k.endswith("_reverse")})
        self.backward_layer.load_torch_weights(state_dict, _suffix="_reverse")
