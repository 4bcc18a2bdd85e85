"""Model builders: Keras's own base sizes, input-size and weights rules, Hub modules, named layers."""

import numpy as np
import pytest
import tensorflow as tf

from common.errors import NetworkUnavailableError, UsageError
from estimators.engines import conversion
from estimators.models import build_model
from estimators.models.spec import ModelSpec
from estimators.models.transfer import BACKBONES, base_layers
from estimators.stages.finetune import FineTune, trainable_base_layers, unfreeze
from input_fns.preprocessing import ImageSpec

pytestmark = pytest.mark.medium

RGB32 = ImageSpec(32, 32, 3)


def spec(**kwargs) -> ModelSpec:
    return ModelSpec(**{"image": RGB32, "num_classes": 3, **kwargs})


@pytest.mark.parametrize(
    "name,params", [("vgg16", 14_714_688), ("mobilenet_v2", 2_257_984), ("nasnet_mobile", 4_269_716)]
)
def test_base_parameter_counts_equal_keras(name, params):
    model = build_model(name, spec(weights="none"))
    assert sum(layer.count_params() for layer in base_layers(model)) == params == BACKBONES[name].base_params
    # Frozen base: only the head's Dense kernel and bias train; BatchNorm never does.
    assert [w.name for w in model.trainable_weights] == ["probabilities/kernel:0", "probabilities/bias:0"]
    head = model.get_layer("probabilities")
    assert head.kernel_regularizer is not None and model.get_layer("head_dropout").rate == 0.25
    assert model.input_names == ["image"] and model.output_shape == (None, 3)


@pytest.mark.parametrize(
    "name,image,weights,message",
    [
        (
            "nasnet_mobile",
            ImageSpec(160, 160, 3),
            "imagenet",
            "--image_size: 'nasnet_mobile' with ImageNet weights takes only 224x224",
        ),
        ("vgg16", ImageSpec(16, 16, 3), "none", "--image_size: 'vgg16' needs images of at least 32x32; got 16x16"),
        ("mobilenet_v2", ImageSpec(32, 32, 1), "none", "--channels: 'mobilenet_v2' takes RGB images"),
        ("vgg16", RGB32, "/no/such/weights.h5", "--weights: no weights file at '/no/such/weights.h5'"),
    ],
)
def test_input_rules_are_checked_before_building(name, image, weights, message):
    with pytest.raises(UsageError, match=message):
        build_model(name, spec(image=image, weights=weights))


def test_local_weights_file_is_loaded(tmp_path):
    tf.keras.utils.set_random_seed(1)
    trained = build_model("mobilenet_v2", spec())
    base = tf.keras.Model(trained.input, trained.get_layer("avg_pool").input)
    path = str(tmp_path / "mobilenet_v2_notop.h5")
    base.save_weights(path)
    loaded = build_model("mobilenet_v2", spec(weights=path))
    for name in ("Conv1/kernel:0", "block_16_project/kernel:0", "bn_Conv1/moving_mean:0"):
        want = next(w for w in trained.weights if w.name == name).numpy()
        got = next(w for w in loaded.weights if w.name == name).numpy()
        np.testing.assert_array_equal(got, want)

    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an HDF5 file")
    with pytest.raises(UsageError, match="--weights: '.*junk.h5' does not hold 'mobilenet_v2' weights"):
        build_model("mobilenet_v2", spec(weights=str(junk)))


def test_imagenet_weights_without_network_say_how_to_use_a_local_copy():
    with pytest.raises(NetworkUnavailableError, match="could not fetch the ImageNet weights for 'vgg16'.*--weights="):
        build_model("vgg16", spec(weights="imagenet"))


def test_hub_module_by_local_handle_and_trainable_switch(hub_module):
    frozen = build_model("hub", spec(hub_handle=hub_module))
    assert [w.name for w in frozen.trainable_weights] == ["probabilities/kernel:0", "probabilities/bias:0"]
    trainable = build_model("hub", spec(hub_handle=hub_module, trainable_base=True))
    assert len(trainable.trainable_weights) == 4  # the module's conv kernel and bias too
    probs = trainable.predict(np.zeros((2, 32, 32, 3), np.float32), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    "handle,error,message",
    [
        ("/no/such/module", UsageError, "--hub_handle: no SavedModel directory at '/no/such/module'"),
        (None, UsageError, "--hub_handle: the 'hub' model needs --hub_handle"),
        (
            "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5",
            NetworkUnavailableError,
            "--hub_handle=<that directory>",
        ),
    ],
)
def test_bad_hub_handles(handle, error, message):
    with pytest.raises(error, match=message):
        build_model("hub", spec(hub_handle=handle))


def test_hub_directory_without_saved_model(tmp_path):
    with pytest.raises(UsageError, match="without saved_model.pb"):
        build_model("hub", spec(hub_handle=str(tmp_path)))


@pytest.mark.parametrize("name", ["small_cnn", "basic_cnn", "deep_cnn", "vgg16", "mobilenet_v2"])
def test_layer_names_do_not_depend_on_what_was_built_before(name):
    # Checkpoint keys are variable names: Keras's automatic names (conv2d_7) would change.
    image = ImageSpec(8, 8, 1) if name == "small_cnn" else RGB32
    first = [w.name for w in build_model(name, spec(image=image)).weights]
    second = [w.name for w in build_model(name, spec(image=image)).weights]
    assert first == second and len(set(first)) == len(first)


def test_cnn_augmentation_layers_are_named_and_train_only():
    model = build_model("deep_cnn", spec(augment="flip_shift"))
    assert {"augment_flip", "augment_shift"} <= {layer.name for layer in model.layers}
    images = np.random.default_rng(0).random((2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(model(images, training=False), model(images, training=False))


def test_dnn_inputs_are_keyed_by_feature_name():
    model = build_model("dnn", spec(image=None, features=(("age", 1), ("pixels", 4)), hidden_units=(8, 4)))
    assert model.input_names == ["age", "pixels"]
    assert [layer.name for layer in model.layers if isinstance(layer, tf.keras.layers.Dense)] == [
        "hidden1",
        "hidden2",
        "probabilities",
    ]
    probs = model({"age": np.ones((2, 1), np.float32), "pixels": np.ones((2, 4), np.float32)})
    assert probs.shape == (2, 3)
    with pytest.raises(UsageError, match="named numeric features"):
        build_model("dnn", spec(image=None))


def test_fine_tune_unfreezes_the_top_but_never_batch_norm():
    model = build_model("mobilenet_v2", spec())
    unfreeze(model, FineTune(steps=10, from_layer="block_16_expand"), spec(learning_rate=1e-4))
    trainable = trainable_base_layers(model)
    assert trainable[0] == "block_16_expand" and "Conv_1" in trainable
    assert not any(isinstance(model.get_layer(n), tf.keras.layers.BatchNormalization) for n in trainable)
    assert not model.get_layer("block_15_expand").trainable
    # BatchNorm in inference mode: a training step leaves its moving statistics alone.
    before = model.get_layer("Conv_1_bn").moving_mean.numpy().copy()
    model.train_on_batch(
        {"image": np.random.default_rng(0).random((4, 32, 32, 3)).astype(np.float32)}, np.arange(4) % 3
    )
    np.testing.assert_array_equal(model.get_layer("Conv_1_bn").moving_mean.numpy(), before)
    assert float(tf.keras.backend.get_value(model.optimizer.learning_rate)) == pytest.approx(1e-4)

    by_fraction = build_model("vgg16", spec())
    unfreeze(by_fraction, FineTune(steps=10, top_fraction=0.25), spec())
    assert trainable_base_layers(by_fraction) == ["block5_conv1", "block5_conv2", "block5_conv3"]
    with pytest.raises(UsageError, match="--fine_tune_from: no layer 'block9_conv1'"):
        unfreeze(build_model("vgg16", spec()), FineTune(steps=1, from_layer="block9_conv1"), spec())


class Apply(tf.keras.layers.Layer):
    """A custom layer taking a function: Keras cannot make its config, so it cannot be cloned."""

    def __init__(self, fn):
        super().__init__(name="my_apply")
        self.fn = fn

    def call(self, x):
        return self.fn(x)


def test_custom_layer_model_to_estimator_names_the_layer(tmp_path):
    inputs = tf.keras.Input((4,), name="x")
    outputs = tf.keras.layers.Dense(2, activation="softmax", name="probabilities")(Apply(lambda x: 2.0 * x)(inputs))
    model = tf.keras.Model(inputs, outputs, name="custom")
    model.compile(tf.keras.optimizers.legacy.Adam(), "sparse_categorical_crossentropy")
    config = conversion.make_run_config(str(tmp_path), conversion.CheckpointPolicy())
    with pytest.raises(
        UsageError,
        match="--model: model 'custom' cannot become an Estimator: layer 'my_apply' \\(Apply\\) cannot be rebuilt",
    ):
        conversion.keras_to_estimator(model, config)
