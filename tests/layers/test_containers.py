"""Sequential and Model: naming, params, summary, config, output_shape, shared layers."""
from __future__ import annotations

import json

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe import layers


def mlp():
    return layers.Sequential([layers.Dense(8, activation="relu"), layers.Dense(8, activation="relu"),
                              layers.Dense(3)])


def test_sequential_names_params_and_lists():
    model = mlp()
    model(T.matrix("x", shape=(None, 5)))
    names = list(model.named_params())
    assert names == ["0/W", "0/b", "1/W", "1/b", "2/W", "2/b"]
    assert [p.name for p in model.params] == names
    assert model.trainable_params == model.params
    assert len(model.layers) == 3 and len(model) == 3 and model[0] is model.layers[0]


def test_names_identical_for_two_models_built_by_same_code():
    a, b = mlp(), mlp()
    a(T.matrix("x", shape=(None, 5)))
    b(T.matrix("y", shape=(None, 5)))
    assert list(a.named_params()) == list(b.named_params())
    assert [p.get_value().shape for p in a.params] == [p.get_value().shape for p in b.params]


def test_explicit_layer_names():
    model = layers.Sequential([layers.Dense(4, name="hidden"), layers.Dense(2, name="out")])
    model(T.matrix("x", shape=(None, 3)))
    assert list(model.named_params()) == ["hidden/W", "hidden/b", "out/W", "out/b"]
    with pytest.raises(ValueError, match="two layers are named 'a'"):
        layers.Sequential([layers.Dense(4, name="a"), layers.Dense(2, name="a")])


def test_sequential_errors():
    with pytest.raises(TypeError, match="list of layers"):
        layers.Sequential(layers.Dense(3))
    with pytest.raises(TypeError, match="item 1 is not a Layer"):
        layers.Sequential([layers.Dense(3), "relu"])
    model = mlp()
    model(T.matrix("x", shape=(None, 5)))
    with pytest.raises(ValueError, match="already been built"):
        model.add(layers.Dense(2))


class Block(layers.Model):
    def __init__(self, units):
        super().__init__()
        self.fc1 = layers.Dense(units, activation="relu")
        self.fc2 = layers.Dense(units)

    def call(self, x, training=False):
        return layers.activations.relu(x + self.fc2(self.fc1(x, training), training))


class ResNet(layers.Model):
    def __init__(self):
        super().__init__()
        self.stem = layers.Dense(6)
        self.blocks = [Block(6), Block(6)]
        self.head = layers.Dense(2)

    def call(self, x, training=False):
        h = self.stem(x, training)
        for b in self.blocks:
            h = b(h, training)
        return self.head(h, training)


def test_model_subclass_residual_hierarchical_names():
    model = ResNet()
    out = model(T.matrix("x", shape=(None, 4)))
    assert out.type.shape == (None, 2)
    names = list(model.named_params())
    assert names == ["stem/W", "stem/b", "blocks/0/fc1/W", "blocks/0/fc1/b", "blocks/0/fc2/W",
                     "blocks/0/fc2/b", "blocks/1/fc1/W", "blocks/1/fc1/b", "blocks/1/fc2/W",
                     "blocks/1/fc2/b", "head/W", "head/b"]
    assert [p.name for p in model.params] == names
    other = ResNet()
    other(T.matrix("y", shape=(None, 4)))
    assert list(other.named_params()) == names
    assert len(model.layers) == 4


def test_model_residual_values():
    model = ResNet()
    x = T.dmatrix("x", shape=(None, 4))
    out = nnthe.function([x], model(x))
    v = np.random.default_rng(0).normal(size=(3, 4))
    p = {k: w.get_value() for k, w in model.named_params().items()}
    h = v @ p["stem/W"] + p["stem/b"]
    for i in range(2):
        a = np.maximum(h @ p[f"blocks/{i}/fc1/W"] + p[f"blocks/{i}/fc1/b"], 0)
        h = np.maximum(h + a @ p[f"blocks/{i}/fc2/W"] + p[f"blocks/{i}/fc2/b"], 0)
    np.testing.assert_allclose(out(v), h @ p["head/W"] + p["head/b"], rtol=1e-10)


class TwoInputs(layers.Model):
    def __init__(self):
        super().__init__()
        self.shared = layers.Dense(4, activation="tanh")
        self.merge = layers.Concatenate(axis=1)
        self.head = layers.Dense(1)

    def call(self, inputs, training=False):
        a, b = inputs
        return self.head(self.merge([self.shared(a), self.shared(b)]))


def test_two_inputs_and_shared_layer():
    model = TwoInputs()
    a, b = T.matrix("a", shape=(None, 3)), T.matrix("b", shape=(None, 3))
    out = model([a, b])
    assert out.type.shape == (None, 1)
    assert list(model.named_params()) == ["shared/W", "shared/b", "head/W", "head/b"]
    f = nnthe.function([a, b], out)
    va = np.ones((2, 3), "float32")
    assert f(va, va).shape == (2, 1)
    # gradient of the shared layer sums both uses
    g = nnthe.grad(out.sum(), model.shared.W)
    assert g.type.shape == (3, 4)
    assert model.output_shape([(None, 3), (None, 3)]) == (None, 1)


def test_same_layer_in_two_containers_listed_once():
    d = layers.Dense(3)
    model = layers.Sequential([d, layers.Activation("relu"), d])
    model(T.matrix("x", shape=(None, 3)))
    assert list(model.named_params()) == ["0/W", "0/b"]


def test_summary_table():
    model = layers.Sequential([layers.Dense(800, activation="relu"), layers.Dense(10)])
    text = model.summary(input_shape=(None, 784), print_fn=None)
    assert "0 (Dense)" in text and "(None, 800)" in text and "628,000" in text
    assert "Total params: 636,010" in text and "Non-trainable params: 0" in text
    with pytest.raises(ValueError, match="not been built"):
        mlp().summary(print_fn=None)


def test_output_shape_without_graph():
    model = mlp()
    assert model.output_shape((None, 5)) == (None, 3)
    assert not model.built  # Sequential.output_shape builds nothing
    assert ResNet().output_shape((7, 4)) == (7, 2)


def test_config_json_serializable():
    cfg = mlp().config()
    s = json.dumps(cfg)
    assert cfg["class"] == "Sequential" and len(cfg["config"]["layers"]) == 3
    assert json.loads(s)["config"]["layers"][0]["config"]["units"] == 8
    rcfg = ResNet().config()
    json.dumps(rcfg)
    assert set(rcfg["children"]) == {"stem", "blocks/0", "blocks/1", "head"}


def test_named_params_trainable_filter():
    model = layers.Sequential([layers.Dense(4), layers.BatchNorm(), layers.Dense(2)])
    model(T.matrix("x", shape=(None, 3)))
    allp = list(model.named_params())
    assert allp == ["0/W", "0/b", "1/gamma", "1/beta", "1/running_mean", "1/running_var",
                    "2/W", "2/b"]
    assert list(model.named_params(trainable=False)) == ["1/running_mean", "1/running_var"]
    assert "1/running_mean" not in model.named_params(trainable=True)
    assert [p.name for p in model.trainable_params] == list(model.named_params(trainable=True))
    assert model.named_random_states() == {}


def test_nested_sequential_names():
    inner = layers.Sequential([layers.Dense(4), layers.Dense(4)])
    outer = layers.Sequential([inner, layers.Dense(2)])
    outer(T.matrix("x", shape=(None, 3)))
    assert list(outer.named_params()) == ["0/0/W", "0/0/b", "0/1/W", "0/1/b", "1/W", "1/b"]
    assert inner.params[0].name == "0/0/W"
