"""Modules that can be called like the function they are named after.

``nnthe.scan`` is both Theano's function (``nnthe.scan(fn, ...)``) and a module for
Theano-style imports (``from nnthe.scan import scan``). Importing a submodule binds its
name on the package to the module, so the module itself is made callable.
"""
from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self, self.__name__.rsplit(".", 1)[-1])(*args, **kwargs)


def make_callable(module_name: str) -> None:
    """Let ``module_name`` be called as its same-named function."""
    sys.modules[module_name].__class__ = _CallableModule
