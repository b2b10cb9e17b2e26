"""Comparing what a file holds with what the objects expect, before changing anything."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from ..core.hints import closest
from ..core.shared import SharedVariable


def fmt_shape(shape: Iterable[Any]) -> str:
    shape = tuple(shape)
    inner = ", ".join("?" if s is None else str(s) for s in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


@dataclass
class LoadReport:
    """What a load did, and every difference between the file and the objects.

    Names are the entries' paths: ``"params/0/W"``, ``"optimizer/state/step"`` for
    checkpoints, the plain parameter names for ``.npz`` files and state dicts.

    Attributes
    ----------
    loaded : list of str
        Entries whose values were set.
    missing : list of str
        Expected by the objects, absent from the file (left unchanged).
    unexpected : list of str
        In the file, with no variable to receive them (ignored).
    wrong_shape : list of (name, file shape, expected shape)
    wrong_dtype : list of (name, file dtype, expected dtype)
    """

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    wrong_shape: list[tuple[str, tuple, tuple]] = field(default_factory=list)
    wrong_dtype: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if the file and the objects matched exactly."""
        return not (self.missing or self.unexpected or self.wrong_shape or self.wrong_dtype)

    @property
    def n_differences(self) -> int:
        return len(self.missing) + len(self.unexpected) + len(self.wrong_shape) + len(self.wrong_dtype)

    def describe(self, expected: Mapping[str, SharedVariable] | None = None,
                 found: Mapping[str, tuple[tuple, np.dtype]] | None = None) -> str:
        """The differences, one per line (empty if none)."""
        lines = []
        for name in self.missing:
            lines.append(f"  missing from the file: {name}"
                         + (f" {_desc_var(expected[name])}" if expected and name in expected else "")
                         + _hint(name, self.unexpected))
        for name in self.unexpected:
            lines.append(f"  unexpected in the file: {name}"
                         + (f" {found[name][1]} {fmt_shape(found[name][0])}" if found and name in found else ""))
        for name, got, want in self.wrong_shape:
            lines.append(f"  wrong shape: {name}: file {fmt_shape(got)}, expected {fmt_shape(want)}")
        for name, got, want in self.wrong_dtype:
            lines.append(f"  wrong dtype: {name}: file {got}, expected {want}")
        return "\n".join(lines)

    def __str__(self) -> str:
        head = f"LoadReport: {len(self.loaded)} loaded, {self.n_differences} differences"
        body = self.describe()
        return head + ("\n" + body if body else "")


def _desc_var(var: SharedVariable) -> str:
    return f"{var.type.dtype} {fmt_shape(var.type.shape)}"


def _hint(name: str, candidates: list[str]) -> str:
    match = closest(name, candidates, cutoff=0.75)
    return f" (did you mean {match!r}, which is in the file?)" if match is not None else ""


def match(expected: Mapping[str, SharedVariable],
          found: Mapping[str, tuple[tuple, np.dtype]]) -> tuple[LoadReport, list[str]]:
    """Compare expected variables with found (shape, dtype) entries.

    Returns the report (``loaded`` left empty) and the names that match and can be set.
    """
    report = LoadReport()
    ok = []
    for name, var in expected.items():
        if name not in found:
            report.missing.append(name)
            continue
        shape, dtype = found[name]
        good = True
        if np.dtype(dtype) != var.type.numpy_dtype:
            report.wrong_dtype.append((name, np.dtype(dtype).name, var.type.dtype))
            good = False
        if not var.type.shape_matches(tuple(shape)):
            report.wrong_shape.append((name, tuple(shape), var.type.shape))
            good = False
        if good:
            ok.append(name)
    report.unexpected = [name for name in found if name not in expected]
    return report, ok


def flatten(sections: Mapping[str, Mapping[str, SharedVariable]]) -> OrderedDict[str, SharedVariable]:
    """``{"params": {"0/W": v}}`` -> ``{"params/0/W": v}``."""
    out: OrderedDict[str, SharedVariable] = OrderedDict()
    for section, named in sections.items():
        for name, var in named.items():
            out[f"{section}/{name}"] = var
    return out


def reject_unknown(kwargs: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Raise a TypeError with a "did you mean" hint for unknown keyword arguments."""
    if not kwargs:
        return
    allowed = list(allowed)
    msgs = []
    for key in kwargs:
        match = closest(key, allowed)
        msgs.append(f"{key!r}" + (f" (did you mean {match!r}?)" if match is not None else ""))
    raise TypeError(f"{where}() got unexpected keyword argument(s) {', '.join(msgs)}; "
                    f"it accepts {', '.join(allowed)}")
