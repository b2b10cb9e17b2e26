"""Neural-network ops: convolution, pooling, softmax and cross-entropies, activations,
batch normalization. The user-facing namespace is :mod:`nnthe.nnet` (``T.nnet``)."""
from __future__ import annotations

from .activations import (elu, gelu, hard_sigmoid, leaky_relu, relu, selu, sigmoid, silu,
                          softplus, softsign, swish, tanh)
from .batchnorm import batch_normalization, batch_normalization_test, batch_normalization_train
from .conv import Conv2d, Conv2dGradInputs, Conv2dGradWeights, conv2d, conv_output_shape
from .losses import (CategoricalCrossEntropy, binary_crossentropy, categorical_crossentropy,
                     sigmoid_binary_crossentropy)
from .pool import (AveragePoolGrad, MaxPoolGrad, MaxPoolGradGrad, Pool, global_average_pool_2d,
                   global_max_pool_2d, global_pool_2d, pool_2d, pool_output_shape)
from .pool_argmax import (MaxPoolArgmax, MaxPoolArgmaxGather, MaxPoolGradFromArgmax,
                          max_pool_argmax)
from .softmax import (LogSoftmax, OneHot, Softmax, SoftmaxCrossEntropyWithLogits, log_softmax,
                      logsumexp, one_hot, softmax, softmax_cross_entropy_with_logits)

__all__ = [
    "elu",
    "gelu",
    "hard_sigmoid",
    "leaky_relu",
    "relu",
    "selu",
    "sigmoid",
    "silu",
    "softplus",
    "softsign",
    "swish",
    "tanh",
    "batch_normalization",
    "batch_normalization_test",
    "batch_normalization_train",
    "Conv2d",
    "Conv2dGradInputs",
    "Conv2dGradWeights",
    "conv2d",
    "conv_output_shape",
    "CategoricalCrossEntropy",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sigmoid_binary_crossentropy",
    "AveragePoolGrad",
    "MaxPoolGrad",
    "MaxPoolGradGrad",
    "Pool",
    "global_average_pool_2d",
    "global_max_pool_2d",
    "global_pool_2d",
    "pool_2d",
    "pool_output_shape",
    "MaxPoolArgmax",
    "MaxPoolArgmaxGather",
    "MaxPoolGradFromArgmax",
    "max_pool_argmax",
    "LogSoftmax",
    "OneHot",
    "Softmax",
    "SoftmaxCrossEntropyWithLogits",
    "log_softmax",
    "logsumexp",
    "one_hot",
    "softmax",
    "softmax_cross_entropy_with_logits",
]
