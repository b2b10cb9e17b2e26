"""Layer.load_torch_state_dict: PyTorch names and layouts, strict checking, hooks."""
from __future__ import annotations

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe import layers
from nnthe.checkpoint import CheckpointMismatchError
from nnthe.layers.base import Layer
from nnthe.layers.torch_weights import torch_names


def mnist_cnn_bn():
    return layers.Sequential([
        layers.Conv2D(8, 3, padding="same"), layers.BatchNorm(), layers.Activation("relu"),
        layers.MaxPool2D(2), layers.Conv2D(6, 3, groups=2, stride=2),
        layers.Flatten(), layers.Dense(16, activation="relu"), layers.Dropout(0.5),
        layers.Dense(10)])


def built(model, shape=(None, 2, 12, 12)):
    X = T.tensor4("X", shape=shape)
    return X, model(X, training=False)


def fake_torch_state(rng, model):
    """A state dict in PyTorch's names and layouts, made from the nnthe shapes."""
    sd = {}
    for key, name in torch_names(model).items():
        shape = model.named_params()[name].get_value().shape
        if key.endswith("weight") and len(shape) == 2 and not name.endswith("gamma"):
            shape = shape[::-1]
        sd[key] = rng.random(shape).astype("float32") + 0.5
    sd["1.num_batches_tracked"] = np.array(7, dtype=np.int64)
    return sd


def test_names_and_layouts(rng):
    model = mnist_cnn_bn()
    built(model)
    assert list(torch_names(model)) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "4.weight", "4.bias", "6.weight", "6.bias", "8.weight", "8.bias"]
    sd = fake_torch_state(rng, model)
    report = model.load_torch_state_dict(sd)
    assert report.ok and len(report.loaded) == 12
    p = model.named_params()
    np.testing.assert_array_equal(p["6/W"].get_value(), sd["6.weight"].T)  # Linear transposed
    np.testing.assert_array_equal(p["0/W"].get_value(), sd["0.weight"])    # conv as is
    np.testing.assert_array_equal(p["1/running_var"].get_value(), sd["1.running_var"])
    np.testing.assert_array_equal(p["1/gamma"].get_value(), sd["1.weight"])
    assert p["6/W"].get_value().flags.c_contiguous


def test_strict_lists_every_difference_and_changes_nothing(rng):
    model = mnist_cnn_bn()
    built(model)
    before = {k: v.get_value() for k, v in model.named_params().items()}
    sd = fake_torch_state(rng, model)
    del sd["0.bias"]
    sd["extra.weight"] = np.zeros(3, "float32")
    sd["6.weight"] = sd["6.weight"].T            # given in nnthe's layout by mistake
    sd["8.bias"] = np.zeros(10, "int32")
    with pytest.raises(CheckpointMismatchError) as info:
        model.load_torch_state_dict(sd)
    msg = str(info.value)
    assert "4 difference(s)" in msg
    for part in ("missing from the file: 0.bias", "unexpected in the file: extra.weight",
                 "6.weight (nnthe 6/W after transposed", "8.bias: file int32, expected float32"):
        assert part in msg
    assert "num_batches_tracked" not in msg
    for k, v in model.named_params().items():
        np.testing.assert_array_equal(v.get_value(), before[k])
    report = info.value.report
    assert report.missing == ["0.bias"] and report.unexpected == ["extra.weight"]

    with pytest.warns(nnthe.checkpoint.CheckpointWarning, match="4 difference"):
        loose = model.load_torch_state_dict(sd, strict=False)
    assert not loose.ok and "0.weight" in loose.loaded and "6.weight" not in loose.loaded
    np.testing.assert_array_equal(model.named_params()["0/W"].get_value(), sd["0.weight"])


def test_prefix_rename_cast_and_errors(rng):
    model = layers.Sequential([layers.Dense(3)])
    built_x = T.matrix("x", shape=(None, 4))
    model(built_x)
    w = rng.normal(size=(3, 4))
    report = model.load_torch_state_dict({"net.fc.weight": w, "net.fc.bias": np.zeros(3)},
                                         prefix="net.", rename={"fc.weight": "0.weight",
                                                                "fc.bias": "0.bias"})
    assert report.ok
    np.testing.assert_allclose(model.named_params()["0/W"].get_value(), w.T.astype("float32"))
    with pytest.raises(CheckpointMismatchError, match="wrong dtype"):
        model.load_torch_state_dict({"0.weight": w, "0.bias": np.zeros(3)}, cast=False)
    with pytest.raises(CheckpointMismatchError, match="unexpected in the file: other.weight"):
        model.load_torch_state_dict({"0.weight": w, "0.bias": np.zeros(3), "other.weight": w})
    with pytest.raises(CheckpointMismatchError, match="unexpected in the file: 0.weight"):
        model.load_torch_state_dict({"0.weight": w, "net.0.bias": np.zeros(3)}, prefix="net.")
    with pytest.raises(TypeError, match="expected a dict"):
        model.load_torch_state_dict([w])
    with pytest.raises(ValueError, match="has no parameters yet"):
        layers.Sequential([layers.Dense(3)]).load_torch_state_dict({})


class Scale(Layer):
    """A layer with its own mapping hook."""

    def build(self, input_shape):
        self.s = self.add_param("s", (input_shape[1],), "ones")

    def call(self, x, training=False):
        return x * self.s

    def torch_param_map(self):
        return {"scale": ("s", lambda a: a.reshape(-1))}


class Gates(Layer):
    """A layer that loads its own entries (as recurrent layers do)."""

    def build(self, input_shape):
        self.w = self.add_param("w", (2, input_shape[1]), "zeros")

    def call(self, x, training=False):
        return T.dot(x, self.w.T)

    def load_torch_weights(self, state_dict):
        if set(state_dict) != {"weight_ih_l0"}:
            raise ValueError(f"Gates: expected weight_ih_l0, got {sorted(state_dict)}")
        self.w.set_value(np.asarray(state_dict["weight_ih_l0"], dtype="float32"))


class NoMap(Layer):
    def build(self, input_shape):
        self.q = self.add_param("q", (1,), "ones")

    def call(self, x, training=False):
        return x * self.q


def test_layer_hooks(rng):
    model = layers.Sequential([Scale(), Gates()])
    model(T.matrix("x", shape=(None, 3)))
    gw = rng.normal(size=(2, 3)).astype("float32")
    report = model.load_torch_state_dict({"0.scale": np.full((1, 3), 2.0, "float32"),
                                          "1.weight_ih_l0": gw})
    assert sorted(report.loaded) == ["0.scale", "1.weight_ih_l0"]
    np.testing.assert_array_equal(model.named_params()["0/s"].get_value(), [2, 2, 2])
    np.testing.assert_array_equal(model.named_params()["1/w"].get_value(), gw)
    # The hook's own error surfaces; the other parameters are left as they were.
    with pytest.raises(ValueError, match="Gates: expected"):
        model.load_torch_state_dict({"0.scale": np.full((1, 3), 5.0, "float32"), "1.other": gw})
    np.testing.assert_array_equal(model.named_params()["0/s"].get_value(), [2, 2, 2])
    bad = layers.Sequential([NoMap()])
    bad(T.matrix("x", shape=(None, 3)))
    with pytest.raises(TypeError, match="no PyTorch mapping for NoMap"):
        bad.load_torch_state_dict({})


def test_weights_saved_by_torch_give_same_outputs(tmp_path, rng):
    torch = pytest.importorskip("torch", reason="comparing with PyTorch needs torch")
    st_torch = pytest.importorskip("safetensors.torch", reason="needs safetensors")
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 6, 3, stride=2, groups=2), nn.Flatten(), nn.Linear(6 * 2 * 2, 16),
        # nnthe's Dense(activation='relu') is one layer; PyTorch's ReLU takes index 7.
        nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 10))
    with torch.no_grad():  # non-trivial running statistics
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
        net[1].weight.uniform_(0.5, 1.5)
    net.eval()
    path = tmp_path / "net.safetensors"
    st_torch.save_file(net.state_dict(), str(path))

    model = layers.Sequential([
        layers.Conv2D(8, 3, padding="same"), layers.BatchNorm(), layers.Activation("relu"),
        layers.MaxPool2D(2), layers.Conv2D(6, 3, groups=2, stride=2),
        layers.Flatten(), layers.Dense(16, activation="relu"), layers.Dropout(0.5),
        layers.Dense(10)])
    X, y = built(model, (None, 2, 12, 12))
    report = model.load_torch_state_dict(nnthe.checkpoint.load_safetensors(path),
                                         rename={"9.weight": "8.weight", "9.bias": "8.bias"})
    assert report.ok and "1.num_batches_tracked" not in report.unexpected
    x = rng.normal(size=(4, 2, 12, 12)).astype("float32")
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(nnthe.function([X], y)(x), expected, rtol=1e-5, atol=1e-5)
