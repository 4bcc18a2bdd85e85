"""A TF-Hub image feature-vector module by handle, with a dropout + L2 softmax head.

tensorflow_hub 0.16 builds hub.KerasLayer on tf.keras (Keras 2.15 here), so
the layer goes into a tf.keras model and through model_to_estimator like any other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tensorflow as tf

from common.errors import NetworkUnavailableError, UsageError
from estimators.models.spec import ModelSpec
from estimators.models.transfer import HEAD_DROPOUT_NAME
from estimators.tasks.classification import classifier_head, compile_classifier

if TYPE_CHECKING:  # TF-Hub loads only when a hub model is built: every training run imports this module
    import tensorflow_hub as hub

HUB_LAYER_NAME = "hub_module"
_REMOTE_PREFIXES = ("http://", "https://")


def is_remote(handle: str) -> bool:
    return handle.startswith(_REMOTE_PREFIXES)


def load_hub_layer(handle: str | None, trainable: bool) -> hub.KerasLayer:
    import tensorflow_hub as hub

    if not handle:
        raise UsageError(
            "hub_handle", "the 'hub' model needs --hub_handle: a TF-Hub URL or a local SavedModel directory"
        )
    if not is_remote(handle):
        if not tf.io.gfile.isdir(handle):
            raise UsageError("hub_handle", f"no SavedModel directory at '{handle}'")
        if not tf.io.gfile.exists(f"{handle.rstrip('/')}/saved_model.pb"):
            raise UsageError("hub_handle", f"'{handle}' is a directory without saved_model.pb; not a SavedModel")
        return hub.KerasLayer(handle, trainable=trainable, name=HUB_LAYER_NAME)
    try:
        return hub.KerasLayer(handle, trainable=trainable, name=HUB_LAYER_NAME)
    except Exception as err:  # noqa: BLE001  (urllib, HTTP and resolver errors all mean: not fetched)
        raise NetworkUnavailableError(
            f"could not fetch TF-Hub module '{handle}' ({type(err).__name__}); download it where there is "
            "network (the URL with ?tf-hub-format=compressed gives a .tar.gz), unpack it and pass "
            "--hub_handle=<that directory>"
        ) from None


def build_hub(spec: ModelSpec) -> tf.keras.Model:
    """Input -> hub.KerasLayer (feature vector; trainable per spec.trainable_base) -> dropout -> softmax."""
    if spec.image is None:
        raise UsageError("model", "'hub' is an image model; the dataset has no images")
    layer = load_hub_layer(spec.hub_handle, spec.trainable_base)
    inputs = tf.keras.Input(shape=spec.image.shape, name=spec.input_name)
    features = layer(inputs)
    if features.shape.rank != 2:
        raise UsageError(
            "hub_handle",
            f"'{spec.hub_handle}' returns shape {features.shape}; an image feature-vector module "
            "returns [batch, features]",
        )
    x = tf.keras.layers.Dropout(spec.dropout, name=HEAD_DROPOUT_NAME)(features)
    model = tf.keras.Model(inputs, classifier_head(x, spec, l2=spec.l2), name="hub")
    return compile_classifier(model, spec)
