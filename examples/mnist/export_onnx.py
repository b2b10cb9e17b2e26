"""Export a checkpoint written by train.py as an ONNX model (needs ``pip install 'nnthe[onnx]'``).

    python examples/mnist/export_onnx.py --checkpoint runs/cnn                 # runs/cnn/model.onnx
    python examples/mnist/export_onnx.py --checkpoint runs/cnn --output cnn.onnx --head probabilities

Rebuilds the architecture named in the checkpoint's metadata, loads its parameters and
writes the inference graph (dropout off, batch norm on its running statistics) with a
dynamic batch axis: input ``input`` of shape (batch, 1, 28, 28), float32. When
onnxruntime is installed the file is run once and compared with nnthe's own output.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # models.py next to this file

import nnthe  # noqa: E402
import nnthe.onnx  # noqa: E402
import nnthe.tensor as T  # noqa: E402
from nnthe import checkpoint  # noqa: E402

import models  # noqa: E402
from evaluate import pick_checkpoint  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True, help="a checkpoint file or a train.py folder")
    p.add_argument("--which", choices=["best", "latest"], default="best")
    p.add_argument("--output", default=None, help="the .onnx file (default: model.onnx beside "
                                                  "the checkpoint)")
    p.add_argument("--head", choices=["logits", "probabilities", "classes"], default="logits",
                   help="what the ONNX model returns")
    p.add_argument("--opset", type=int, default=nnthe.onnx.OPSET)
    args = p.parse_args(argv)

    path = pick_checkpoint(args.checkpoint, args.which)
    meta = checkpoint.load_checkpoint(path)  # metadata only
    name = meta.get("model")
    if name not in models.MODELS:
        raise SystemExit(f"export_onnx.py: {path} names no known architecture (meta 'model' = "
                         f"{name!r}; expected one of {', '.join(models.MODELS)})")
    model = models.build(name)
    X = T.tensor4("input", shape=(None, 1, 28, 28))
    model(X, training=False)  # creates the parameters
    checkpoint.load_checkpoint(path, params=model.named_params())
    out = args.output or os.path.join(os.path.dirname(os.path.abspath(path)), "model.onnx")
    try:
        onnx_model = nnthe.onnx.export_model(model, (1, 28, 28), out, output=args.head,
                                             opset=args.opset)
    except ImportError as exc:
        raise SystemExit(f"export_onnx.py: {exc}") from None
    n_init = len(onnx_model.graph.initializer)
    print(f"wrote {out}: {name}, {len(onnx_model.graph.node)} ONNX nodes, {n_init} "
          f"initializers, opset {args.opset}, output {args.head!r}")
    try:
        import onnxruntime as ort
    except ImportError:
        print("(onnxruntime is not installed: the file was checked with onnx.checker only)")
        return 0
    x = np.random.default_rng(0).random((8, 1, 28, 28), dtype=np.float32)
    y = model(X, training=False)
    if args.head == "probabilities":
        y = T.nnet.softmax(y)
    elif args.head == "classes":
        y = T.argmax(y, axis=-1)
    expected = nnthe.function([X], y)(x)
    sess = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    diff = float(np.max(np.abs(got.astype(np.float64) - expected)))
    print(f"onnxruntime {ort.__version__} agrees with nnthe on 8 images: max |difference| {diff:.3g}")
    return 0 if np.allclose(got, expected, rtol=1e-5, atol=1e-5) else 1


if __name__ == "__main__":
    sys.exit(main())
