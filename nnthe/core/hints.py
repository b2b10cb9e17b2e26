""""Did you mean" hints for error messages about unknown names and keyword arguments."""
from __future__ import annotations

import difflib
from typing import Any, Iterable, Mapping


def closest(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate most similar to ``name`` (difflib's ratio >= ``cutoff``), or None."""
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=cutoff)
    return found[0] if found else None


def did_you_mean(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str:
    """``"; did you mean 'x'?"`` for the closest candidate, or ``""`` when none is close."""
    match = closest(name, candidates, cutoff)
    return f"; did you mean {match!r}?" if match is not None else ""


def refuse_unknown_kwargs(what: str, kwargs: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Raise TypeError for the first keyword of ``kwargs`` not in ``allowed``, with a hint
    and the accepted names."""
    allowed = list(allowed)
    for key in kwargs:
        if key not in allowed:
            raise TypeError(f"{what}() got an unexpected keyword argument {key!r}"
                            f"{did_you_mean(key, allowed)}. Accepted: {', '.join(allowed)}")
