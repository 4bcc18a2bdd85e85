"""Text classifiers of the course's recurrent and transformer chapters: raw strings in, the task's head out.

Each model starts with its own tokeniser, a TextVectorization layer holding the
training role's vocabulary (input_fns/text_source.py adapts it), so the model and
its export take raw strings and the vocabulary is saved with the SavedModel.
- ``text_bilstm``: Embedding + bidirectional LSTM (the course's classifier);
- ``text_conv1d``: Embedding + 1-D convolutions over word windows, max-pooled;
- ``text_transformer``: token and position embeddings, one transformer encoder block (local self-attention);
- ``text_hub``: a TF-Hub text embedding (``--hub_handle``, a URL or a local SavedModel that
  takes a batch of strings) with a dense head; it tokenises itself.
"""

from __future__ import annotations

import tensorflow as tf

from common.errors import UsageError
from estimators.models.spec import ModelSpec
from estimators.tasks import compile_for_task, task_head
from input_fns.text_source import TEXT_INPUT

layers = tf.keras.layers
SEQUENCE_LENGTH = 64  # tokens a model reads per text: longer texts are cut, shorter ones padded
EMBEDDING_DIM = 32
RECURRENT_UNITS = 32
CONV_FILTERS = 64
HEADS = 2
ATTENTION_WINDOW = 1  # the transformer: each token attends to itself and the one before it


@tf.keras.utils.register_keras_serializable(package="kestrel")
class Tokenizer(layers.TextVectorization):
    """TextVectorization with a vocabulary given at construction.

    Its size is read from that vocabulary, not from the lookup table: the Estimator engine
    (model_to_estimator) clones the model into a graph, and the stock layer's get_config
    reads the size from the eager table, which a graph cannot capture.
    """

    def vocabulary_size(self) -> int:
        return len(self._lookup_layer.input_vocabulary) + 2  # padding and the out-of-vocabulary token


def _tokens(spec: ModelSpec) -> tuple[tf.keras.Input, tf.Tensor]:
    if not spec.vocabulary:
        raise UsageError("model", "the text models read raw strings with a vocabulary (--source=text_folder)")
    inputs = tf.keras.Input(shape=(), dtype=tf.string, name=TEXT_INPUT)
    tokens = Tokenizer(vocabulary=list(spec.vocabulary), output_sequence_length=SEQUENCE_LENGTH, name="tokenize")(
        inputs
    )
    return inputs, tokens


def _embedded(spec: ModelSpec) -> tuple[tf.keras.Input, tf.Tensor]:
    inputs, tokens = _tokens(spec)
    x = layers.Embedding(len(spec.vocabulary) + 2, EMBEDDING_DIM, name="embedding")(tokens)
    return inputs, x


def _model(inputs: tf.keras.Input, x: tf.Tensor, spec: ModelSpec, name: str) -> tf.keras.Model:
    if spec.dropout:
        x = layers.Dropout(spec.dropout, name="head_dropout")(x)
    return compile_for_task(tf.keras.Model(inputs, task_head(x, spec), name=name), spec)


def build_bilstm(spec: ModelSpec) -> tf.keras.Model:
    """Embedding -> bidirectional LSTM -> the head."""
    inputs, x = _embedded(spec)
    x = layers.Bidirectional(layers.LSTM(RECURRENT_UNITS), name="bilstm")(x)
    return _model(inputs, x, spec, "text_bilstm")


def build_conv1d(spec: ModelSpec) -> tf.keras.Model:
    """Embedding -> Conv1D over 3-word windows, twice -> global max pooling -> the head."""
    inputs, x = _embedded(spec)
    x = layers.Conv1D(CONV_FILTERS, 3, activation="relu", padding="same", name="conv1")(x)
    x = layers.Conv1D(CONV_FILTERS, 3, activation="relu", padding="same", name="conv2")(x)
    x = layers.GlobalMaxPooling1D(name="max_pool")(x)
    return _model(inputs, x, spec, "text_conv1d")


@tf.keras.utils.register_keras_serializable(package="kestrel")
class PositionEmbedding(layers.Layer):
    """Token embeddings plus learnt position embeddings (the transformer has no sense of order otherwise)."""

    def __init__(self, sequence_length: int, vocab_size: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length, self.vocab_size, self.dim = sequence_length, vocab_size, dim
        self.tokens = layers.Embedding(vocab_size, dim)
        self.positions = layers.Embedding(sequence_length, dim)

    def call(self, tokens: tf.Tensor) -> tf.Tensor:
        positions = tf.range(tf.shape(tokens)[-1])
        return self.tokens(tokens) + self.positions(positions)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(sequence_length=self.sequence_length, vocab_size=self.vocab_size, dim=self.dim)
        return config


@tf.keras.utils.register_keras_serializable(package="kestrel")
class LocalAttentionMask(layers.Layer):
    """The self-attention mask in which each token attends to itself and the ``window`` tokens before it.

    Full attention, learning from scratch which token is next to which, did not beat the bag
    of words within a few hundred steps here (0.59-0.63 against 0.62); the band gives it the
    order that "not" before "superb" needs, as local attention does in long-text encoders.
    (A layer of its own, without weights: the Estimator engine's graph clone keeps it.)
    """

    def __init__(self, window: int, **kwargs):
        super().__init__(**kwargs)
        self.window = window

    def call(self, x: tf.Tensor) -> tf.Tensor:
        i = tf.range(tf.shape(x)[1])
        band = (i[None, :] <= i[:, None]) & (i[None, :] >= i[:, None] - self.window)
        return tf.tile(band[None], [tf.shape(x)[0], 1, 1])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(window=self.window)
        return config


def build_transformer(spec: ModelSpec) -> tf.keras.Model:
    """Token + position embeddings -> one encoder block (local self-attention, feed-forward, both residual and
    normalised) -> max-pooled over the tokens -> the head."""
    inputs, tokens = _tokens(spec)
    x = PositionEmbedding(SEQUENCE_LENGTH, len(spec.vocabulary) + 2, EMBEDDING_DIM, name="embedding")(tokens)
    mask = LocalAttentionMask(ATTENTION_WINDOW, name="local_mask")(x)
    attended = layers.MultiHeadAttention(HEADS, EMBEDDING_DIM // HEADS, name="attention")(x, x, attention_mask=mask)
    x = layers.LayerNormalization(name="norm1")(x + attended)
    fed = layers.Dense(EMBEDDING_DIM * 2, activation="relu", name="feed_forward1")(x)
    fed = layers.Dense(EMBEDDING_DIM, name="feed_forward2")(fed)
    x = layers.LayerNormalization(name="norm2")(x + fed)
    x = layers.GlobalMaxPooling1D(name="max_pool")(x)
    return _model(inputs, x, spec, "text_transformer")


def build_hub(spec: ModelSpec) -> tf.keras.Model:
    """A TF-Hub text embedding (strings -> vectors), frozen unless --trainable_base, then a dense layer."""
    import tensorflow_hub as hub

    if not spec.hub_handle:
        raise UsageError("hub_handle", "not set; text_hub needs a TF-Hub text embedding (a URL or a local SavedModel)")
    inputs = tf.keras.Input(shape=(), dtype=tf.string, name=TEXT_INPUT)
    x = hub.KerasLayer(spec.hub_handle, trainable=spec.trainable_base, name="hub_embedding")(inputs)
    x = layers.Dense(EMBEDDING_DIM, activation="relu", name="hidden")(x)
    return _model(inputs, x, spec, "text_hub")
