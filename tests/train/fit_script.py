"""Run a small fit in a subprocess (for the Ctrl-C test); print each epoch's loss as hex.

Usage: python fit_script.py CHECKPOINT_DIR EPOCHS {slow|fast} [--resume]
  slow: sleep after every step and print 'step N' so the test can send SIGINT mid-run.
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nnthe import optim, train  # noqa: E402

from train_helpers import data, tiny_model  # noqa: E402


def main() -> int:
    ckpt, epochs, speed = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    resume = "--resume" in sys.argv
    X, y = data()
    model = tiny_model(seed=1 if resume else 0)  # a resumed run must not depend on the init
    opt = optim.Adam(learning_rate=1e-2)

    def on_batch_end(trainer, step, logs):
        if speed == "slow":
            print(f"step {step}", flush=True)
            time.sleep(0.05)

    callbacks = [train.LearningRateScheduler(optim.ExponentialLR(opt, 0.9)),
                 train.LambdaCallback(on_batch_end=on_batch_end)]
    import nnthe
    print(f"nnthe {os.path.dirname(nnthe.__file__)}", flush=True)
    try:
        history = train.fit(model, (X, y), optimizer=opt, epochs=epochs, batch_size=10,
                            callbacks=callbacks, checkpoint_dir=ckpt or None,
                            resume=resume, verbose=0)
    except train.TrainingInterrupted as exc:
        print(exc, file=sys.stderr, flush=True)
        return 130
    for row in history.epochs:
        print(f"loss {row['loss'].hex()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
