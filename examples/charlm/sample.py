"""Print text sampled from a trained character-level model.

    python examples/charlm/sample.py --checkpoint runs/charlm [--temperature 0.8]
        [--length 500] [--prime "def "] [--seed 0]

The model is rebuilt from the sizes in the checkpoint's metadata, its parameters loaded
by name; each next byte is drawn from ``softmax(logits / temperature)`` given the last
``--context`` bytes.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import nnthe  # noqa: E402
import nnthe.tensor as T  # noqa: E402
from nnthe import checkpoint  # noqa: E402

import model as charlm  # noqa: E402


def pick_checkpoint(path: str) -> str:
    """A file as is; for a folder of train.py, its best checkpoint by val_loss (else the latest)."""
    if not os.path.isdir(path):
        if not os.path.exists(path):
            raise SystemExit(f"sample.py: no checkpoint at {path}")
        return path
    mgr = checkpoint.CheckpointManager(path, keep=None, keep_best="val_loss")
    found = mgr.best() or mgr.latest()
    if found is None:
        raise SystemExit(f"sample.py: no checkpoint (ckpt-*.h5) in {path}")
    return found


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--length", type=int, default=500)
    p.add_argument("--prime", default="def ")
    p.add_argument("--context", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.temperature <= 0:
        p.error("--temperature must be > 0")
    path = pick_checkpoint(args.checkpoint)
    meta = checkpoint.load_checkpoint(path)
    if meta.get("model") != "charlm":
        raise SystemExit(f"sample.py: {path} is not a charlm checkpoint (meta 'model' = {meta.get('model')!r})")
    model = charlm.build(int(meta["units"]), int(meta["embed"]))
    x = T.imatrix("x")
    logits = model(x)[:, -1] / np.float32(args.temperature)
    step = nnthe.function([x], T.nnet.softmax(logits)[0])
    checkpoint.load_checkpoint(path, params=model.named_params())
    rng = np.random.default_rng(args.seed)
    text = bytearray(args.prime.encode() or b"\n")
    for _ in range(args.length):
        ctx = np.frombuffer(bytes(text[-args.context:]), dtype=np.uint8).astype(np.int32)[None]
        prob = step(ctx).astype(np.float64)
        text.append(int(rng.choice(charlm.VOCAB, p=prob / prob.sum())))
    sys.stdout.write(text.decode("utf-8", errors="replace") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
