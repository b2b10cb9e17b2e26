"""Evaluate a checkpoint written by train.py on the MNIST test set.

    python examples/mnist/evaluate.py --checkpoint runs/cnn            # the best in the folder
    python examples/mnist/evaluate.py --checkpoint runs/cnn --which latest
    python examples/mnist/evaluate.py --checkpoint runs/cnn/ckpt-00005160.h5

Builds a fresh model of the architecture named in the checkpoint's metadata, loads the
parameters by name, and prints the test accuracy and the confusion matrix.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # models.py next to this file

from nnthe import checkpoint, data, train  # noqa: E402

import models  # noqa: E402


def pick_checkpoint(path: str, which: str = "best") -> str:
    """A file as is; for a folder of train.py, its best checkpoint by val_loss (else the
    latest), or with ``which='latest'`` the latest."""
    if not os.path.isdir(path):
        if not os.path.exists(path):
            raise SystemExit(f"evaluate.py: no checkpoint at {path}")
        return path
    mgr = checkpoint.CheckpointManager(path, keep=None, keep_best="val_loss")
    found = (mgr.best() if which == "best" else None) or mgr.latest()
    if found is None:
        raise SystemExit(f"evaluate.py: no checkpoint (ckpt-*.h5) in {path}")
    return found


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int = 10) -> np.ndarray:
    """counts[i, j] = how many images of digit i were predicted as j."""
    return np.bincount(y_true.astype(np.int64) * k + y_pred, minlength=k * k).reshape(k, k)


def format_confusion(cm: np.ndarray) -> str:
    k = len(cm)
    w = max(5, len(str(cm.max())) + 1)
    lines = ["confusion matrix (rows: true digit, columns: predicted digit)",
             " " * 8 + "".join(f"{j:>{w}}" for j in range(k))]
    lines += [f"{i:>8}" + "".join(f"{c:>{w}}" for c in row) for i, row in enumerate(cm)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True, help="a checkpoint file or a train.py folder")
    p.add_argument("--which", choices=["best", "latest"], default="best",
                   help="for a folder: the checkpoint with the best val_loss (default) or the latest")
    p.add_argument("--data", default=None, help="a folder with the MNIST files")
    p.add_argument("--batch-size", type=int, default=500)
    args = p.parse_args(argv)

    path = pick_checkpoint(args.checkpoint, args.which)
    try:
        meta = checkpoint.load_checkpoint(path)  # metadata only: nothing is loaded yet
    except checkpoint.CheckpointError as exc:
        raise SystemExit(f"evaluate.py: cannot read the checkpoint: {exc}") from None
    name = meta.get("model")
    if name not in models.MODELS:
        raise SystemExit(f"evaluate.py: {path} names no known architecture (meta 'model' = "
                         f"{name!r}; expected one of {', '.join(models.MODELS)})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", data.MNISTSubsetWarning)
        _, (X_test, y_test) = data.load_mnist(args.data)
    if caught:
        print(f"note: {caught[0].message}\n", file=sys.stderr)

    model = models.build(name)
    trainer = train.Trainer(model).compile(X_test.shape[1:])  # creates the parameters
    # Only the parameters: the dropout states exist in a training graph, which we don't build.
    checkpoint.load_checkpoint(path, params=model.named_params())
    result = trainer.evaluate(X_test, y_test, batch_size=args.batch_size)
    pred = np.argmax(trainer.predict_batches(X_test, batch_size=args.batch_size), axis=1)
    print(f"{path}: {name} after epoch {meta.get('epoch')} (step {meta.get('global_step')})")
    print(f"test accuracy {result['accuracy']:.4f} (loss {result['loss']:.4f}, "
          f"{int(np.sum(pred != y_test))} errors in {len(y_test):,})")
    print(format_confusion(confusion_matrix(y_test, pred)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
