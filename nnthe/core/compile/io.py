"""Theano's ``In`` and ``Out``: an input with a default value and a keyword name, an
output with a borrow flag.

``nnthe.function([x, In(y, value=1), In(w, value=2, name='w_by_name')], z)`` makes a
function callable as ``f(33)``, ``f(33, 2)`` or ``f(33, w_by_name=1, y=0)``.
"""
from __future__ import annotations

from typing import Any

from ..graph import Variable
from ..hints import refuse_unknown_kwargs

_NO_VALUE = object()


class In:
    """A symbolic input of ``function`` with options.

    Parameters
    ----------
    variable : Variable
        The symbolic input.
    value : optional
        The default used when a call does not give this input.
    name : str, optional
        The keyword a call gives this input by (default: the variable's name).
    mutable : bool
        Theano lets the function overwrite such an input in place. nnthe's compiled
        functions never write into the caller's arrays, so this is accepted and has no
        effect.
    borrow : bool
        Theano lets the function keep a reference to the given array; accepted, no
        effect (nnthe keeps none between calls).
    """

    def __init__(self, variable: Variable, name: str | None = None, value: Any = _NO_VALUE,
                 mutable: bool = False, borrow: bool = False, **kwargs: Any) -> None:
        if kwargs:
            if "update" in kwargs:
                raise NotImplementedError(
                    "In(update=...) (an input that is also state) is not supported; use a "
                    "shared variable and updates= instead")
            refuse_unknown_kwargs("In", kwargs, ["variable", "name", "value", "mutable", "borrow"])
        if not isinstance(variable, Variable):
            raise TypeError(f"In: variable must be a symbolic variable, got {variable!r}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"In: name must be a string, got {name!r}")
        self.variable = variable
        self.name = name if name is not None else variable.name
        self.value = value
        self.mutable = bool(mutable)
        self.borrow = bool(borrow)

    @property
    def has_default(self) -> bool:
        return self.value is not _NO_VALUE

    def __repr__(self) -> str:
        default = f", value={self.value!r}" if self.has_default else ""
        return f"In({self.variable!r}, name={self.name!r}{default})"


class Out:
    """An output of ``function`` with Theano's ``borrow`` flag.

    nnthe returns a new array for every output of every call, so ``borrow=True`` (which
    in Theano allows returning an internal buffer) changes nothing.
    """

    def __init__(self, variable: Variable, borrow: bool = False) -> None:
        if not isinstance(variable, Variable):
            raise TypeError(f"Out: variable must be a symbolic variable, got {variable!r}")
        self.variable = variable
        self.borrow = bool(borrow)

    def __repr__(self) -> str:
        return f"Out({self.variable!r}, borrow={self.borrow})"


__all__ = ["In", "Out"]
