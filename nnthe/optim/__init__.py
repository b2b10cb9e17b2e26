"""Optimizers, gradient clipping and learning-rate schedules.

An optimizer turns a loss and parameters into an ``OrderedDict`` of updates for
``nnthe.function``; its hyper-parameters and state are shared variables, so schedules
change them without recompiling and checkpoints save them::

    opt = optim.Adam(learning_rate=1e-3, clip_norm=5.0)
    train = nnthe.function([X, y], loss, updates=opt.updates(loss, params))
    sched = optim.CosineAnnealingLR(opt, T_max=10)
    for epoch in range(10):
        ...                       # train(...) on each batch
        sched.step()

The rules match ``torch.optim`` step for step.
"""
from __future__ import annotations

from .adam import AMSGrad, Adam, Adamax, AdamW
from .adaptive import Adadelta, Adagrad, RMSprop
from .base import Hyperparameter, Optimizer
from .clipping import clip_by_value, clip_grads, norm_constraint, total_norm_constraint
from .functional import (adadelta, adagrad, adam, adamax, adamw, apply_momentum,
                         apply_nesterov_momentum, momentum, nesterov_momentum, rmsprop, sgd)
from .schedules import (CosineAnnealingLR, CosineAnnealingWarmRestarts, ExponentialLR,
                        LinearWarmup, LRSchedule, MultiStepLR, OneCycleLR, ReduceLROnPlateau,
                        StepLR)
from .sgd import SGD, Momentum, Nesterov

__all__ = [
    "Optimizer", "Hyperparameter", "SGD", "Momentum", "Nesterov", "Adagrad", "RMSprop",
    "Adadelta", "Adam", "AdamW", "Adamax", "AMSGrad",
    "sgd", "momentum", "nesterov_momentum", "adagrad", "rmsprop", "adadelta", "adam", "adamw",
    "adamax", "apply_momentum", "apply_nesterov_momentum",
    "total_norm_constraint", "clip_by_value", "clip_grads", "norm_constraint",
    "LRSchedule", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts", "LinearWarmup", "OneCycleLR", "ReduceLROnPlateau",
]
