"""Containers: :class:`Model` (subclass it and write ``call`` as plain Python) and
:class:`Sequential` (a stack of layers).

Why subclassing rather than a functional ``Model(inputs, outputs)``: the forward pass
*is* Python on symbolic tensors, so residual blocks, several inputs, shared layers and
``if training:`` branches need no graph-of-layers machinery, and every sub-layer has an
obvious, stable name — the attribute it is assigned to. Two models built by the same
code therefore name their parameters identically, which is what checkpoints rely on.

Examples
--------
A residual block and a two-input model::

    class Block(layers.Model):
        def __init__(self, channels):
            super().__init__()
            self.conv1 = layers.Conv2D(channels, 3, padding='same', activation='relu')
            self.conv2 = layers.Conv2D(channels, 3, padding='same')

        def call(self, x, training=False):
            return T.nnet.relu(x + self.conv2(self.conv1(x, training), training))

    class TwoTower(layers.Model):
        def __init__(self):
            super().__init__()
            self.shared = layers.Dense(32, activation='relu')   # used twice: one set of params
            self.head = layers.Dense(1)

        def call(self, inputs, training=False):
            a, b = inputs
            return self.head(layers.Concatenate()([self.shared(a), self.shared(b)]))

    model = TwoTower()
    out = model([A, B])
    model.named_params().keys()   # shared/W, shared/b, head/W, head/b
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np

from ..config import config
from ..core.types import fmt_shape
from ..core.variable import TensorVariable
from .base import Layer, Shape, _static_shape, _symbolic_input


class Model(Layer):
    """A layer made of sub-layers, with a forward pass written in :meth:`call`.

    Sub-layers assigned as attributes (or in lists of layers) are registered under the
    attribute name; their parameters are named ``attr/local`` (``blocks/0/conv/W`` for a
    list). The model is called like any layer: ``model(x, training=False)``, where
    ``x`` may be a tensor or a list/tuple of tensors.
    """

    multi_input = False

    def __call__(self, x: Any, training: bool = False) -> Any:
        if not isinstance(training, (bool, np.bool_)):
            raise TypeError(f"{self!r}: training must be True or False, got {training!r}")
        if not self.built:
            self._input_shape = _static_shape(x)
            self.built = True
        out = self.call(x, training=bool(training))
        self._output_shape = _static_shape(out)
        self._name_params()
        return out

    @property
    def layers(self) -> list[Layer]:
        """The direct sub-layers, in registration order."""
        return [layer for _, layer in self.named_children()]

    def output_shape(self, input_shape: Any) -> Shape:
        """The static output shape for inputs of ``input_shape``.

        A :class:`Model`'s ``call`` is arbitrary Python, so this traces it on a symbolic
        input of that shape (building the parameters if needed); :class:`Sequential`
        traces without building.
        """
        # Not Layer's side-effect-free trace: a Model is built by being asked (summary()
        # and users rely on it), so it traces itself for real.
        return _static_shape(self(_symbolic_input(input_shape, self.dtype or config.floatX)))

    def summary(self, input_shape: Any = None, print_fn: Any = print) -> str:
        """A table of the sub-layers, their output shapes and parameter counts.

        Parameters
        ----------
        input_shape : tuple, optional
            Build the model on a symbolic input of this shape first (needed when it was
            never called).
        print_fn : callable or None
            Where the table goes (``print`` by default; None to only return it).

        Returns
        -------
        str
            The table.
        """
        if input_shape is not None and not self.built:
            Model.output_shape(self, input_shape)  # traces, so the layers get built
        if not self.built:
            raise ValueError(f"{type(self).__name__}.summary(): the model has not been built; "
                             f"call it on an input first or pass input_shape=(None, ...)")
        rows = [("Layer", "Output shape", "Params")]
        for key, layer in self.named_children():
            count = layer.count_params()
            shape = layer._output_shape
            rows.append((f"{key} ({type(layer).__name__})",
                         "?" if shape is None else _fmt_out(shape), f"{count:,}"))
        total = self.count_params()
        trainable = sum(int(np.prod(v.container[0].shape)) for v in self.trainable_params)
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        line = "-" * (sum(widths) + 6)
        text = [f"{type(self).__name__} (input {_fmt_out(self._input_shape)})", line]
        for k, r in enumerate(rows):
            text.append(f"{r[0]:<{widths[0]}}   {r[1]:<{widths[1]}}   {r[2]:>{widths[2]}}")
            if k == 0:
                text.append(line)
        text += [line, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                 f"Non-trainable params: {total - trainable:,}"]
        out = "\n".join(text)
        if print_fn is not None:
            print_fn(out)
        return out


class Sequential(Model):
    """A stack of layers, each applied to the output of the previous one.

    Parameters
    ----------
    layers : list of Layer
        Named ``'0'``, ``'1'``, ... in parameter names (``'0/W'``), or by their
        ``name=`` when given.
    name : str, optional

    Examples
    --------
    >>> model = layers.Sequential([layers.Dense(800, activation='relu'), layers.Dense(10)])
    >>> logits = model(T.matrix('X', shape=(None, 784)))
    >>> list(model.named_params())
    ['0/W', '0/b', '1/W', '1/b']
    """

    def __init__(self, layers: Sequence[Layer] = (), name: str | None = None) -> None:
        super().__init__(name=name)
        if isinstance(layers, Layer) or not isinstance(layers, (list, tuple)):
            raise TypeError(f"Sequential takes a list of layers, got {type(layers).__name__}")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: item {i} is not a Layer but "
                                f"{type(layer).__name__}: {layer!r}")
        self._layers: list[Layer] = []
        for layer in layers:
            self.add(layer)

    def add(self, layer: Layer) -> None:
        """Append a layer (before the model is first called)."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add takes a Layer, got {type(layer).__name__}")
        if self.built:
            raise ValueError("Sequential.add: the model has already been built (called)")
        key = layer.name or str(len(self._layers))
        if any(k == key for k, _ in self.named_children()):
            raise ValueError(f"Sequential: two layers are named {key!r}")
        self._layers.append(layer)
        self._init_args["layers"] = list(self._layers)

    def named_children(self) -> Iterator[tuple[str, Layer]]:
        for i, layer in enumerate(self.__dict__.get("_layers", [])):
            yield layer.name or str(i), layer

    def __len__(self) -> int:
        return len(self._layers)

    def __getitem__(self, i: int) -> Layer:
        return self._layers[i]

    def __iter__(self) -> Iterator[Layer]:
        return iter(self._layers)

    def call(self, x: Any, training: bool = False) -> Any:
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def output_shape(self, input_shape: Any) -> Shape:
        """The static output shape, traced without building anything (see
        :meth:`Layer.output_shape`)."""
        return Layer.output_shape(self, input_shape)

    def config(self) -> dict:
        return {"class": type(self).__name__,
                "config": {"name": self.name, "layers": [l.config() for l in self._layers]}}

    def __repr__(self) -> str:
        inner = ",\n".join(f"  ({k}): {l!r}" for k, l in self.named_children())
        return f"Sequential(\n{inner}\n)" if inner else "Sequential()"


def _fmt_out(shape: Any) -> str:
    if isinstance(shape, list):
        return "[" + ", ".join(_fmt_out(s) for s in shape) + "]"
    if shape is None:
        return "?"
    return fmt_shape(shape)


__all__ = ["Model", "Sequential"]
