"""The neural-network namespace, ``T.nnet`` (as in Theano).

Convolution (``conv2d``, ``conv_output_shape``), pooling (``pool_2d``,
``pool_output_shape``, global pooling), softmax and cross-entropies (``softmax``,
``log_softmax``, ``logsumexp``, ``categorical_crossentropy``, ``binary_crossentropy``,
``softmax_cross_entropy_with_logits``, ``sigmoid_binary_crossentropy``), activations
(``relu``, ``elu``, ``selu``, ``gelu``, ``silu``/``swish``, ``hard_sigmoid``,
``softsign``, ``sigmoid``, ``softplus``), ``one_hot`` and ``batch_normalization``.

Examples
--------
>>> import nnthe.tensor as T
>>> x = T.tensor4('x', shape=(None, 1, 28, 28)); w = T.tensor4('w', shape=(32, 1, 5, 5))
>>> h = T.nnet.pool_2d(T.nnet.relu(T.nnet.conv2d(x, w)), (2, 2))
"""
from __future__ import annotations

from .core import nnet as _core_nnet
from .core.nnet import *  # noqa: F401,F403  (the names listed in nnthe.core.nnet.__all__)
from .core.nnet import conv  # noqa: F401  (Theano's theano.tensor.nnet.conv: conv.conv2d)

#: Theano's name for ``categorical_crossentropy`` with integer labels.
crossentropy_categorical_1hot = _core_nnet.categorical_crossentropy

__all__ = list(_core_nnet.__all__) + ["crossentropy_categorical_1hot"]
