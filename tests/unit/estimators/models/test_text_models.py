"""The text models: raw strings in, the task's probabilities out; the tokeniser survives the Estimator's graph
clone and a SavedModel; the TF-Hub text embedding loads from a local SavedModel the test writes."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from common.tasks import TEXT_CLASSIFICATION
from estimators.models import text
from estimators.models.spec import ModelSpec
from input_fns.text_source import TEXT_INPUT

pytestmark = pytest.mark.medium

VOCABULARY = ("the", "plot", "was", "not", "dull", "superb")
TEXTS = np.array(["the plot was not dull", "the plot was dull", "the plot was superb", "never seen"], dtype=object)


def _spec(**kw) -> ModelSpec:
    return ModelSpec(
        image=None, num_classes=2, task=TEXT_CLASSIFICATION, input_name=TEXT_INPUT, vocabulary=VOCABULARY, **kw
    )


@pytest.mark.parametrize("build", [text.build_bilstm, text.build_conv1d, text.build_transformer])
def test_each_model_reads_raw_strings(build):
    model = build(_spec())
    probabilities = model.predict({TEXT_INPUT: TEXTS}, verbose=0)
    assert probabilities.shape == (4, 2) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    tokens = model.get_layer("tokenize")(tf.constant(["the plot was not dull", "never seen"])).numpy()
    assert tokens.shape == (2, text.SEQUENCE_LENGTH)
    assert list(tokens[0, :5]) == [2, 3, 4, 5, 6] and list(tokens[1, :2]) == [1, 1]  # 0 pads, 1 is unknown


def test_the_tokeniser_clones_into_a_graph_as_the_estimator_engine_does():
    model = text.build_conv1d(_spec())
    with tf.Graph().as_default():
        clone = tf.keras.models.clone_model(model)
    assert clone.get_layer("tokenize").get_config()["vocabulary_size"] == len(VOCABULARY) + 2


def test_a_model_without_a_vocabulary_is_refused():
    with pytest.raises(Exception, match="--model: the text models read raw strings"):
        text.build_bilstm(ModelSpec(image=None, num_classes=2, task=TEXT_CLASSIFICATION, input_name=TEXT_INPUT))


@pytest.fixture(scope="module")
def text_hub_module(tmp_path_factory) -> str:
    """A small local SavedModel standing in for a TF-Hub text embedding: strings [batch] -> [batch, 8]."""

    class Embedding(tf.Module):
        def __init__(self):
            self.table = tf.Variable(tf.random.stateless_normal([64, 8], seed=[1, 2]))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, texts):
            ids = tf.strings.to_hash_bucket_fast(tf.strings.split(texts), 64)
            return tf.reduce_mean(tf.gather(self.table, ids), axis=1)

    path = str(tmp_path_factory.mktemp("text_hub") / "embedding")
    tf.saved_model.save(Embedding(), path)
    return path


def test_the_hub_model_embeds_strings_with_a_local_saved_model(text_hub_module):
    model = text.build_hub(_spec(hub_handle=text_hub_module))
    labels = np.array([1, 0, 1, 0])
    before = model.get_layer("hidden").get_weights()[0].copy()
    model.fit({TEXT_INPUT: TEXTS}, labels, epochs=1, verbose=0)
    assert not np.allclose(before, model.get_layer("hidden").get_weights()[0])
    assert model.predict({TEXT_INPUT: TEXTS}, verbose=0).shape == (4, 2)
    assert not model.get_layer("hub_embedding").trainable_weights  # frozen unless --trainable_base


def test_the_hub_model_needs_a_handle():
    with pytest.raises(Exception, match="--hub_handle: not set"):
        text.build_hub(_spec())
