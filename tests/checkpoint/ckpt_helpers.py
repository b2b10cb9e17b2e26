"""Stand-ins for a model, an optimizer and a random stream, built from plain shared variables."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

import nnthe


class StandInModel:
    """Duck-types a model: named_params / named_random_states / config."""

    def __init__(self, sizes=(4, 3, 2), seed=0, dtype="float32", rng_state=True):
        r = np.random.default_rng(seed)
        self._params = OrderedDict()
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            self._params[f"{i}/W"] = nnthe.shared(r.standard_normal((a, b)).astype(dtype), name=f"{i}/W")
            self._params[f"{i}/b"] = nnthe.shared(np.zeros(b, dtype=dtype), name=f"{i}/b")
        self._params["bn/running_mean"] = nnthe.shared(np.zeros(sizes[-1], dtype=dtype))
        self._rng = OrderedDict()
        if rng_state:
            self._rng["dropout/rng/0"] = nnthe.shared(np.arange(4, dtype="uint64") + np.uint64(seed))
        self.sizes = sizes

    def named_params(self):
        return OrderedDict(self._params)

    def named_random_states(self):
        return OrderedDict(self._rng)

    def config(self):
        return {"class": "StandInModel", "sizes": list(self.sizes)}


class StandInOptimizer:
    """Duck-types an optimizer: one velocity per parameter, a step count, a learning rate."""

    def __init__(self, model, lr=0.1):
        self._state = OrderedDict()
        for name, p in model.named_params().items():
            v = p.get_value(borrow=True)
            self._state[f"{name}/velocity"] = nnthe.shared(np.zeros_like(v))
        self._state["step"] = nnthe.shared(np.int64(0))
        self._hyper = OrderedDict(learning_rate=nnthe.shared(np.float32(lr)))

    @property
    def state(self):
        return OrderedDict(self._state)

    @property
    def hyperparams(self):
        return OrderedDict(self._hyper)


class StandInStream:
    """Duck-types nnthe.random.RandomStream: state_variables()."""

    def __init__(self, seed=0):
        self._vars = OrderedDict(s0=nnthe.shared(np.array([seed, 1, 2, 3], dtype="uint64")))

    def state_variables(self):
        return OrderedDict(self._vars)


def all_vars(model=None, opt=None, stream=None):
    out = OrderedDict()
    if model is not None:
        out.update(("p:" + k, v) for k, v in model.named_params().items())
        out.update(("r:" + k, v) for k, v in model.named_random_states().items())
    if opt is not None:
        out.update(("s:" + k, v) for k, v in opt.state.items())
        out.update(("h:" + k, v) for k, v in opt.hyperparams.items())
    if stream is not None:
        out.update(("g:" + k, v) for k, v in stream.state_variables().items())
    return out


def snapshot(*objs):
    return {k: v.get_value() for k, v in all_vars(*objs).items()}


def scramble(*objs, seed=99):
    """Give every variable a different value of the same type."""
    r = np.random.default_rng(seed)
    for v in all_vars(*objs).values():
        cur = v.get_value()
        new = (r.integers(0, 1000, cur.shape) if cur.dtype.kind in "iu"
               else r.standard_normal(cur.shape)).astype(cur.dtype)
        v.set_value(new)


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def resign(path):
    """Recompute every checksum of a checkpoint, as a tool editing it on purpose would.

    Tests that edit a file with h5py to build an unusual (but intact) checkpoint call this
    so the edit is not refused as damage.
    """
    import h5py

    from nnthe.checkpoint.format import manifest, sha256_hex

    with h5py.File(path, "a") as f:
        entries = {}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "biufc" and obj.shape is not None:
                digest = sha256_hex(np.asarray(obj[()]))
                obj.attrs["sha256"] = np.bytes_(digest)
                entries[name] = (obj.dtype.str, tuple(obj.shape), digest)

        f.visititems(visit)
        header = {}
        for key in ("nnthe_format", "format_version", "nnthe_version", "created"):
            value = f.attrs[key]
            header[key] = value.decode() if isinstance(value, bytes) else str(value)
        f.attrs["sha256"] = np.bytes_(manifest(header, entries))


def set_meta_bytes(path, data):
    """Replace a checkpoint's /meta with raw bytes and re-sign it."""
    import h5py

    with h5py.File(path, "a") as f:
        del f["meta"]
        f["meta"] = np.frombuffer(data, dtype=np.uint8)
    resign(path)


def child_env():
    """The environment for a child Python that must import the nnthe under test.

    The installed nnthe may be another checkout (an editable install of a different
    worktree), so the folder holding this nnthe goes first on PYTHONPATH.
    """
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(nnthe.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env
