"""Train an MLP or a CNN on MNIST with nnthe, then print the test accuracy.

    python examples/mnist/train.py                      # the CNN, 12 epochs
    python examples/mnist/train.py --model mlp --epochs 20
    python examples/mnist/train.py --checkpoint-dir runs/cnn      # Ctrl-C, then:
    python examples/mnist/train.py --checkpoint-dir runs/cnn --resume
    mpiexec -n 2 python -m mpi4py examples/mnist/train.py --distributed   # 2 processes

MNIST is looked for in --data, $NNTHE_DATA, then ~/.cache/nnthe/mnist, downloaded when
possible, and otherwise the small subset bundled with nnthe is used.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import warnings
from typing import Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # models.py next to this file

import nnthe  # noqa: E402
from nnthe import data, optim, train  # noqa: E402

import models  # noqa: E402

OPTIMIZERS = {"adam": optim.Adam, "sgd": optim.SGD, "momentum": optim.Momentum,
              "nesterov": optim.Nesterov, "rmsprop": optim.RMSprop, "adamw": optim.AdamW}
DEFAULTS = {"cnn": dict(epochs=12, lr=1e-3), "mlp": dict(epochs=20, lr=1e-3),
            "lstm": dict(epochs=12, lr=2e-3)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=sorted(models.MODELS), default="cnn")
    p.add_argument("--epochs", type=int, default=None, help="default: 12 (cnn), 20 (mlp)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    p.add_argument("--lr", type=float, default=None, help="initial learning rate (default 1e-3)")
    p.add_argument("--lr-decay", type=float, default=0.8,
                   help="multiply the learning rate by this after every epoch (default 0.8)")
    p.add_argument("--data", default=None, help="a folder with the MNIST files")
    p.add_argument("--checkpoint-dir", default=None, help="save a checkpoint every epoch here")
    p.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint in --checkpoint-dir that loads "
                        "(the learning rate and its schedule come from the checkpoint)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    p.add_argument("--val-size", type=int, default=5000,
                   help="training images held out for validation (default 5000; 0: none)")
    p.add_argument("--verbose", default="auto", choices=["auto", "0", "1", "2"])
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the MPI ranks of mpiexec -n N python -m mpi4py "
                        "(needs pip install 'nnthe[mpi]'); --batch-size stays the global "
                        "batch, each rank trains on batch-size/N of it")
    args = p.parse_args(argv)
    for key, value in DEFAULTS[args.model].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.resume and args.checkpoint_dir is None:
        p.error("--resume needs --checkpoint-dir")
    return args


def report_overrides(resume: train.Resume, args: argparse.Namespace, schedule: optim.ExponentialLR,
                     opt: optim.Optimizer, say: Callable[..., None] = print) -> None:
    """Say which options a resumed run does not use: the checkpoint's learning rate and
    schedule go on (they are part of the exact resume), whatever --lr and --lr-decay say."""
    if resume.path is None:
        return  # started afresh: every option is used
    saved = resume.meta.get("optimizer")
    if saved is not None and saved != args.optimizer:
        raise train.ResumeError(f"the checkpoint {resume.path} was trained with --optimizer "
                                f"{saved}, this run has --optimizer {args.optimizer}")
    # The schedule was restored: base_lr and gamma are the checkpoint's now.
    if np.float32(schedule.base_lr) != np.float32(args.lr):
        say(f"note: --lr {args.lr:g} is not used on --resume: the run continues with the "
              f"checkpoint's learning rate (initial {schedule.base_lr:.4g}, now {opt.lr:.4g})",
              flush=True)
    if schedule.gamma != args.lr_decay:
        say(f"note: --lr-decay {args.lr_decay:g} is not used on --resume: the run continues "
              f"with the checkpoint's schedule (x{schedule.gamma:g} per epoch)", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rank, size = 0, 1
    if args.distributed:
        from nnthe import distributed
        distributed.init()
        rank, size = distributed.rank(), distributed.size()
        if args.batch_size % size:
            if rank == 0:
                print(f"train.py: --batch-size {args.batch_size} is not a multiple of the "
                      f"{size} ranks", file=sys.stderr)
            return 2

    def say(*a: object, **kw: object) -> None:  # one copy of every message, from rank 0
        if rank == 0:
            print(*a, **kw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", data.MNISTSubsetWarning)
        (X, y), (X_test, y_test) = data.load_mnist(args.data)
    if caught:
        say(f"note: {caught[0].message}\n", file=sys.stderr)
    if args.limit is not None:
        X, y = X[:args.limit], y[:args.limit]
    val = None
    if args.val_size:
        # The same split on every run (and so on a resume): the last val-size images.
        n_val = min(args.val_size, len(X) // 5)
        X, y, val = X[:-n_val], y[:-n_val], (X[-n_val:], y[-n_val:])
    ranks = f" over {size} ranks ({args.batch_size // size} each)" if args.distributed else ""
    say(f"{args.model}: {len(X):,} training, {len(val[0]) if val else 0:,} validation, "
          f"{len(X_test):,} test images; {args.optimizer} lr {args.lr:g} (x{args.lr_decay:g} "
          f"per epoch), batch {args.batch_size}{ranks}, {args.epochs} epochs, seed {args.seed}",
          flush=True)

    nnthe.random.seed(args.seed)  # initial weights and dropout masks
    model = models.build(args.model)
    opt = OPTIMIZERS[args.optimizer](learning_rate=args.lr)
    schedule = optim.ExponentialLR(opt, gamma=args.lr_decay)
    # fit's checkpoint_dir=/resume=/history_path= shorthands add these same callbacks;
    # spelled out here to report what a resumed run takes from its checkpoint.
    callbacks: list[train.Callback] = [train.LearningRateScheduler(schedule)]
    if args.checkpoint_dir:
        if args.resume:
            resume = train.Resume(args.checkpoint_dir)
            callbacks = [resume, train.LambdaCallback(
                on_train_begin=lambda trainer: report_overrides(resume, args, schedule, opt, say)),
                *callbacks]
        callbacks += [train.ModelCheckpoint(args.checkpoint_dir, meta={
                          "model": args.model, "optimizer": args.optimizer}),
                      train.HistoryLogger(os.path.join(args.checkpoint_dir, "history.csv"))]
    if args.distributed:  # after Resume, before the checkpoint and history writers
        at = 2 if args.checkpoint_dir and args.resume else 0
        callbacks.insert(at, distributed.Distributed())
    verbose = args.verbose if args.verbose == "auto" else int(args.verbose)
    start = time.perf_counter()
    try:
        history = train.fit(model, (X, y), optimizer=opt, epochs=args.epochs,
                            batch_size=args.batch_size // size, validation_data=val,
                            callbacks=callbacks, seed=args.seed, verbose=verbose)
    except train.ResumeError as exc:
        say(f"train.py: cannot resume from {args.checkpoint_dir}: {exc}", file=sys.stderr)
        return 1
    except train.TrainingInterrupted as exc:
        say(f"\n{exc}", file=sys.stderr)
        if exc.checkpoint is not None:
            cmd = [a for a in sys.argv if a != "--resume"] + ["--resume"]
            launch = f"mpiexec -n {size} python -m mpi4py" if args.distributed else "python"
            say(f"Resume with:\n  {launch} {shlex.join(cmd)}", file=sys.stderr)
        return 130
    if rank != 0:
        return 0  # the model is the same on every rank: rank 0 tests it
    elapsed = time.perf_counter() - start
    test = train.evaluate(model, X_test, y_test, batch_size=500)
    secs = [row["seconds"] for row in history.epochs]
    print(f"test accuracy {test['accuracy']:.4f} (loss {test['loss']:.4f}) after "
          f"{len(history)} epochs; {np.mean(secs) if secs else 0:.1f} s per epoch "
          f"({elapsed:.0f} s in all)", flush=True)
    if args.checkpoint_dir:
        try:  # history.png beside history.csv when matplotlib (nnthe[plot]) is installed
            train.plot_history(os.path.join(args.checkpoint_dir, "history.csv"),
                               os.path.join(args.checkpoint_dir, "history.png"))
        except ImportError:
            pass
        print(f"checkpoints in {args.checkpoint_dir}; evaluate with:\n  python "
              f"{os.path.join(os.path.dirname(sys.argv[0]) or '.', 'evaluate.py')} "
              f"--checkpoint {args.checkpoint_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
