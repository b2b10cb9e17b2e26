"""Train a character-level LSTM language model; report validation bits per character.

    python examples/charlm/train.py                              # the standard library's sources
    python examples/charlm/train.py --text my_corpus/ --epochs 10 --checkpoint-dir runs/charlm
    python examples/charlm/train.py --checkpoint-dir runs/charlm --resume
    python examples/charlm/sample.py --checkpoint runs/charlm --temperature 0.8
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # model.py next to this file

import nnthe  # noqa: E402
from nnthe import optim, train  # noqa: E402

import model as charlm  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--text", default=None, help="a text file or folder (default: Python's stdlib)")
    p.add_argument("--max-bytes", type=int, default=2_000_000, help="training bytes used (default 2e6)")
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--units", type=int, default=256)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--lr-decay", type=float, default=0.9)
    p.add_argument("--clip", type=float, default=5.0, help="gradient norm clipping (0: off)")
    p.add_argument("--checkpoint-dir", default=None)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", default="auto", choices=["auto", "0", "1", "2"])
    args = p.parse_args(argv)
    if args.resume and args.checkpoint_dir is None:
        p.error("--resume needs --checkpoint-dir")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    train_bytes, val_bytes = charlm.load_corpus(args.text, args.max_bytes)
    X, y = charlm.windows(train_bytes, args.seq_len)
    val = charlm.windows(val_bytes, args.seq_len)
    print(f"charlm: {len(train_bytes):,} training and {len(val_bytes):,} validation bytes "
          f"({len(X):,} / {len(val[0]):,} windows of {args.seq_len}); LSTM {args.units}, "
          f"Adam lr {args.lr:g}, batch {args.batch_size}, {args.epochs} epochs", flush=True)
    nnthe.random.seed(args.seed)
    model = charlm.build(args.units, args.embed)
    opt = optim.Adam(learning_rate=args.lr, clip_norm=args.clip or None)
    callbacks: list = [train.LearningRateScheduler(optim.ExponentialLR(opt, gamma=args.lr_decay))]
    if args.checkpoint_dir:
        if args.resume:
            callbacks.insert(0, train.Resume(args.checkpoint_dir))
        callbacks += [train.ModelCheckpoint(args.checkpoint_dir, meta={
                          "model": "charlm", "units": args.units, "embed": args.embed}),
                      train.HistoryLogger(os.path.join(args.checkpoint_dir, "history.csv"))]
    trainer = train.Trainer(model, loss=charlm.loss, optimizer=opt,
                            metrics=[charlm.bits_per_char], input_dtype="int32")
    verbose = args.verbose if args.verbose == "auto" else int(args.verbose)
    start = time.perf_counter()
    try:
        history = trainer.fit(X, y, epochs=args.epochs, batch_size=args.batch_size,
                              validation_data=val, callbacks=callbacks, seed=args.seed,
                              verbose=verbose)
    except train.ResumeError as exc:
        print(f"train.py: cannot resume from {args.checkpoint_dir}: {exc}", file=sys.stderr)
        return 1
    except train.TrainingInterrupted as exc:
        print(f"\n{exc}", file=sys.stderr)
        if exc.checkpoint is not None:
            cmd = [a for a in sys.argv if a != "--resume"] + ["--resume"]
            print(f"Resume with:\n  python {shlex.join(cmd)}", file=sys.stderr)
        return 130
    last = history.epochs[-1] if history.epochs else {}
    key = next((k for k in last if k.startswith("val_") and "bits" in k), None)
    print(f"validation {last.get(key, float('nan')):.3f} bits per character after "
          f"{len(history)} epochs ({time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
