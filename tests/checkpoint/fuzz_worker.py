"""A long-lived process that loads damaged checkpoints for the fuzz tests (see fuzz_helpers).

argv: the intact checkpoint, then the model sizes. Reads one path per line on stdin, loads
it into a stand-in model and optimizer, and prints one line: ``same`` (loaded, every value
and the metadata equal to the intact file's), ``wrong <what>`` (loaded, something differs),
``clear`` (CheckpointError naming the file), ``unnamed <message>`` (CheckpointError not
naming it), ``raw <type>: <message>`` (any other exception).
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from ckpt_helpers import StandInModel, StandInOptimizer, scramble, snapshot  # noqa: E402
from nnthe.checkpoint import CheckpointError, load_checkpoint  # noqa: E402


def _header(meta):
    return (dict(meta), meta.model_config, meta.format_version, meta.nnthe_version, meta.created)


def main() -> None:
    intact = sys.argv[1]
    sizes = tuple(int(s) for s in sys.argv[2].split(","))
    model = StandInModel(sizes=sizes)
    opt = StandInOptimizer(model)
    ref_meta = _header(load_checkpoint(intact, model=model, optimizer=opt))
    ref = snapshot(model, opt)
    print("ready", flush=True)
    for line in sys.stdin:
        path = line.rstrip("\n")
        scramble(model, opt, seed=7)
        try:
            meta = load_checkpoint(path, model=model, optimizer=opt)
        except CheckpointError as exc:
            print("clear" if path in str(exc) else f"unnamed {str(exc)[:200]!r}", flush=True)
            continue
        except Exception as exc:  # what the test is there to find
            print(f"raw {type(exc).__name__}: {str(exc)[:200]!r}", flush=True)
            continue
        got = snapshot(model, opt)
        bad = [k for k in ref if got[k].dtype != ref[k].dtype or not np.array_equal(got[k], ref[k])]
        if _header(meta) != ref_meta:
            bad.append("metadata")
        print("same" if not bad else f"wrong {bad[:4]}", flush=True)


if __name__ == "__main__":
    main()
