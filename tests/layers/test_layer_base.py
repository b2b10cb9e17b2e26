"""Layer base: lazy building, dtypes, tags, kwarg checking, repr, config."""
from __future__ import annotations

import json

import numpy as np
import pytest

import nnthe
import nnthe.tensor as T
from nnthe import layers
from nnthe.layers.base import Layer


def test_build_on_first_call_from_static_shape():
    d = layers.Dense(4)
    assert not d.built and d.params == []
    d(T.matrix("x", shape=(None, 3)))
    assert d.built and d.W.get_value().shape == (3, 4) and d.b.get_value().shape == (4,)
    assert d.W.dtype == "float32"


def test_params_take_input_float_dtype_or_dtype_argument():
    d = layers.Dense(2)
    d(T.dmatrix("x", shape=(None, 3)))
    assert d.W.dtype == "float64"
    d2 = layers.Dense(2, dtype="float64")
    d2(T.matrix("x", shape=(None, 3)).astype("float64"))
    assert d2.b.dtype == "float64"


def test_unknown_dimension_error_names_layer_and_shape():
    with pytest.raises(ValueError, match=r"Dense\(units=4\).*\(None, None\)"):
        layers.Dense(4)(T.matrix("x"))


def test_unknown_kwarg_did_you_mean():
    with pytest.raises(TypeError, match="did you mean 'activation'"):
        layers.Dense(3, activaton="relu")
    with pytest.raises(TypeError, match="did you mean 'kernel_size'"):
        layers.Conv2D(3, kernel_sise=3)
    with pytest.raises(TypeError, match="did you mean .pool_size."):
        layers.MaxPool2D(pool_sze=2)


def test_tags():
    d = layers.Dense(2)
    d(T.matrix("x", shape=(None, 3)))
    assert d.W.tag["trainable"] and d.W.tag["regularizable"]
    assert d.b.tag["trainable"] and not d.b.tag["regularizable"]


def test_training_flag_must_be_bool():
    with pytest.raises(TypeError, match="training must be True or False"):
        layers.Dense(2)(T.matrix("x", shape=(None, 3)), training="yes")


def test_single_input_layer_refuses_list():
    with pytest.raises(TypeError, match="merge layer"):
        layers.Dense(2)([T.matrix("a", shape=(None, 3))])


def test_repr_and_config_json():
    d = layers.Dense(10, activation="relu", use_bias=False)
    assert repr(d) == "Dense(units=10, activation='relu', use_bias=False)"
    cfg = d.config()
    json.dumps(cfg)
    assert cfg["class"] == "Dense" and cfg["config"]["units"] == 10
    assert cfg["config"]["activation"] == "relu" and cfg["config"]["W_init"] == "glorot_uniform"


def test_invalid_name():
    with pytest.raises(ValueError, match="without '/'"):
        layers.Dense(3, name="a/b")


class Scale(Layer):
    """A custom layer with one parameter of the input's feature size."""

    def build(self, input_shape):
        (n,) = self._require(input_shape, [-1], "the features")
        self.s = self.add_param("s", (n,), "ones")

    def call(self, x, training=False):
        return x * self.s


def test_custom_layer_with_add_param():
    layer = Scale()
    x = T.matrix("x", shape=(None, 3))
    out = nnthe.function([x], layer(x))(np.ones((2, 3), "float32"))
    np.testing.assert_array_equal(out, np.ones((2, 3)))
    assert list(layer.named_params()) == ["s"]
    with pytest.raises(ValueError, match="already has a parameter"):
        layer.add_param("s", (3,), "ones")


def test_output_shape_is_traced_and_changes_nothing():
    # An unbuilt layer stays unbuilt, draws no random numbers, creates no parameters.
    nnthe.random.seed(3)
    expected = layers.Dense(4)
    expected(T.matrix("x", shape=(None, 5)))
    nnthe.random.seed(3)
    d = layers.Dense(4)
    assert d.output_shape((None, 5)) == (None, 4)
    assert not d.built and d.params == [] and d._output_shape is None
    d(T.matrix("x", shape=(None, 5)))
    np.testing.assert_array_equal(d.W.get_value(), expected.W.get_value())
    # A built layer (inside a container) keeps its parameter names and recorded shapes.
    model = layers.Sequential([layers.Dense(3), layers.Dense(2)])
    model(T.matrix("x", shape=(None, 5)))
    names = [v.name for v in model.params]
    assert model[1].output_shape((7, 3)) == (7, 2)
    assert [v.name for v in model.params] == names == ["0/W", "0/b", "1/W", "1/b"]
    assert model[1]._output_shape == (None, 2)


def test_output_shape_default_covers_custom_layers():
    assert Scale().output_shape((None, 3)) == (None, 3)
    with pytest.raises(ValueError, match=r"Scale\(\) needs to know the features"):
        Scale().output_shape((None, None))


def test_output_shape_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"^Conv2D\(filters=4, kernel_size=5\): conv2d: .* larger"):
        layers.Conv2D(4, 5).output_shape((None, 1, 3, 3))
