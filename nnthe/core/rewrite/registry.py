"""The rewrite registry and the driver that applies rewrites to a FunctionGraph.

A rewrite is registered with a name, a phase and tags. ``apply_rewrites`` runs the
phases in order; in each phase it visits every node once per pass (a topological
order), tries the phase's rewrites on it, and replaces the node's outputs with what the
first matching rewrite returns. A phase runs at most ``MAX_PASSES`` passes, so no
combination of rewrites can loop, and each pass is linear in the size of the graph.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..graph import Apply, Variable, _site_override as site_stack
from ..hints import did_you_mean

#: The phases, in the order they run. Stabilization comes before constant folding so
#: that folding cannot hide an unstable pattern; in-place comes last because it changes
#: what nodes may be matched.
PHASES = ("merge", "useless", "canonicalize", "stabilize", "specialize", "constant_folding",
          "useless_after", "merge_after", "fusion", "inplace")
#: Phases whose local rewrites share one walk over the graph: each node tries them in
#: phase order. Fewer walks, same ordering guarantees (stabilize still precedes
#: constant folding, which is in a later group).
GROUPS = (("merge",), ("useless", "canonicalize", "stabilize", "specialize"),
          ("constant_folding", "useless_after"), ("merge_after",), ("fusion",), ("inplace",))
MAX_PASSES = 3
#: In-place decisions never enable further in-place decisions: one walk suffices.
PASSES = {"inplace": 1}

LocalFn = Callable[[Any, Apply], "Sequence[Variable] | None"]
GlobalFn = Callable[[Any], int]


@dataclass
class Rewrite:
    """A named graph rewrite.

    ``fn(fgraph, node)`` returns replacements for ``node.outputs`` (or None) for a
    local rewrite; ``fn(fgraph)`` rewrites the whole graph and returns the number of
    changes for a global one.
    """

    name: str
    fn: Callable
    phase: str
    tags: frozenset = field(default_factory=frozenset)
    is_global: bool = False
    doc: str = ""
    #: Op classes this rewrite can match (None: any); the driver skips other nodes.
    tracks: tuple | None = None


_REGISTRY: dict[str, Rewrite] = {}


def register(phase: str, *tags: str, name: str | None = None, is_global: bool = False,
             tracks: tuple | None = None):
    """Decorator: register a rewrite function in ``phase`` with ``tags``.

    Every rewrite is tagged with its name, its phase and ``fast_run``; a Mode includes
    or excludes rewrites by any of these.
    """
    if phase not in PHASES:
        raise ValueError(f"unknown rewrite phase {phase!r}; expected one of {PHASES}")

    def deco(fn: Callable) -> Callable:
        rname = name or fn.__name__
        if rname in _REGISTRY:
            raise ValueError(f"a rewrite named {rname!r} is already registered")
        all_tags = frozenset(tags) | {rname, phase, "fast_run"}
        _REGISTRY[rname] = Rewrite(rname, fn, phase, all_tags, is_global, (fn.__doc__ or "").strip(),
                                   tuple(tracks) if tracks else None)
        return fn

    return deco


def registered_rewrites() -> dict[str, Rewrite]:
    """All registered rewrites by name (a copy)."""
    return dict(_REGISTRY)


def select(include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[Rewrite]:
    """The rewrites a mode runs: tagged ``fast_run`` or included, minus the excluded."""
    known_tags = set().union(*(r.tags for r in _REGISTRY.values())) if _REGISTRY else set()
    for t in list(include) + list(exclude):
        if t not in known_tags:
            raise ValueError(f"unknown rewrite or tag {t!r}{did_you_mean(t, sorted(known_tags))}")
    chosen = []
    for r in _REGISTRY.values():
        if ("fast_run" in r.tags or r.tags & set(include)) and not (r.tags & set(exclude)):
            chosen.append(r)
    return chosen


def apply_rewrites(fgraph: Any, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> None:
    """Apply the selected rewrites to ``fgraph`` in place, phase by phase."""
    chosen = select(include, exclude)
    times = fgraph.rewrite_times
    for group in GROUPS:
        rws = [r for phase in group for r in chosen if r.phase == phase]
        for r in rws:
            if r.is_global:
                t0 = time.perf_counter()
                r.fn(fgraph)
                times[r.name] = times.get(r.name, 0.0) + time.perf_counter() - t0
        local = [r for r in rws if not r.is_global]
        if not local:
            continue
        for _ in range(PASSES.get(group[0], MAX_PASSES)):
            if not _local_pass(fgraph, local, times):
                break


def _local_pass(fgraph: Any, rewrites: list[Rewrite], times: dict) -> int:
    changes = 0
    perf = time.perf_counter
    by_type: dict[type, list[Rewrite]] = {}
    for node in fgraph.toposort():
        op_type = type(node.op)
        candidates = by_type.get(op_type)
        if candidates is None:
            candidates = by_type[op_type] = [
                r for r in rewrites if r.tracks is None or issubclass(op_type, r.tracks)]
        if not candidates or node not in fgraph.nodes:
            continue  # nothing can match, or removed earlier in this pass
        site_stack.append(node.site)
        new = None
        try:
            for r in candidates:
                t0 = perf()
                new = r.fn(fgraph, node)
                times[r.name] = times.get(r.name, 0.0) + perf() - t0
                if new is not None:
                    break
        finally:
            site_stack.pop()
        if new is not None:
            if len(new) != len(node.outputs):
                raise RuntimeError(f"rewrite {r.name!r} returned {len(new)} replacements for "
                                   f"{len(node.outputs)} outputs of {node.op}")
            for old, rep in zip(node.outputs, new):
                if rep is not None and rep is not old:
                    fgraph.replace(old, rep, reason=r.name)
            changes += 1
    return changes
