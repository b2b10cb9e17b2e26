""""Did you mean" hints for error messages about unknown names and keyword arguments.

Functions that take keyword arguments declare them in their real signature and wear
:func:`suggest_keywords`, which turns Python's bare "unexpected keyword argument" into one
that names the closest accepted keyword. Type checkers and ``help()`` see the real
signature (no ``**kwargs``). :class:`~nnthe.layers.Layer` constructors get the same check
from :func:`refuse_unknown_kwargs` without the decorator.
"""
from __future__ import annotations

import difflib
import functools
import inspect
from typing import Any, Callable, Iterable, Mapping, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])


def closest(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate most similar to ``name`` (difflib's ratio >= ``cutoff``), or None."""
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=cutoff)
    return found[0] if found else None


def did_you_mean(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str:
    """``"; did you mean 'x'?"`` for the closest candidate, or ``""`` when none is close."""
    match = closest(name, candidates, cutoff)
    return f"; did you mean {match!r}?" if match is not None else ""


def keyword_names(func: Callable[..., Any]) -> list[str] | None:
    """The names ``func`` accepts as keywords (``self`` excluded), in signature order;
    None when it takes ``**kwargs`` (any keyword is accepted)."""
    params = inspect.signature(func).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    return [n for n, p in params.items()
            if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def refuse_unknown_kwargs(what: str, kwargs: Mapping[str, Any], allowed: Iterable[str],
                          aliases: Mapping[str, str] | None = None) -> None:
    """Raise TypeError for the first keyword of ``kwargs`` not in ``allowed``, with a hint
    and the accepted names.

    Parameters
    ----------
    what : str
        The function's name as the user wrote it (``'conv2d'``, ``'Conv2D'``).
    kwargs : mapping
        The keyword arguments of the call.
    allowed : iterable of str
        The accepted keywords.
    aliases : mapping, optional
        Hints for names from other libraries that difflib would not find
        (``{'lr': 'learning_rate'}``); they win over the closest spelling.

    Raises
    ------
    TypeError
        ``"conv2d() got an unexpected keyword argument 'subsampl'; did you mean
        'subsample'? Accepted: ..."``.
    """
    allowed = list(allowed)
    for key in kwargs:
        if key not in allowed:
            if aliases and key in aliases:
                hint = f"; did you mean {aliases[key]!r}?"
            else:
                hint = did_you_mean(key, allowed)
            raise TypeError(f"{what}() got an unexpected keyword argument {key!r}"
                            f"{hint or '.'} Accepted: {', '.join(allowed)}")


@overload
def suggest_keywords(func: F) -> F: ...
@overload
def suggest_keywords(func: None = None, *, name: str | None = None,
                     aliases: Mapping[str, str] | None = None) -> Callable[[F], F]: ...


def suggest_keywords(func: F | None = None, *, name: str | None = None,
                     aliases: Mapping[str, str] | None = None) -> Any:
    """Decorate a function so that an unknown keyword argument raises a TypeError naming
    the function, the keyword and the closest accepted one.

    The wrapper keeps ``func``'s signature (``functools.wraps``), so ``inspect``, ``help``
    and type checkers see the real parameters. A call with known keywords costs one set
    lookup per keyword.

    Parameters
    ----------
    func : callable
        A function without ``**kwargs`` (with them there is nothing to check, and
        ``func`` is returned unchanged).
    name : str, optional
        The name used in the message (default: ``func.__name__``).
    aliases : mapping, optional
        See :func:`refuse_unknown_kwargs`.

    Examples
    --------
    >>> @suggest_keywords
    ... def conv(x, stride=1): ...
    >>> conv(1, strid=2)
    Traceback (most recent call last):
    TypeError: conv() got an unexpected keyword argument 'strid'; did you mean 'stride'? ...
    """
    if func is None:
        return lambda f: suggest_keywords(f, name=name, aliases=aliases)
    names = keyword_names(func)
    if names is None:
        return func
    allowed = frozenset(names)
    what = name or func.__name__

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for key in kwargs:
            if key not in allowed:
                refuse_unknown_kwargs(what, kwargs, names, aliases)
        return func(*args, **kwargs)

    return wrapper


__all__ = ["closest", "did_you_mean", "keyword_names", "refuse_unknown_kwargs",
           "suggest_keywords"]
