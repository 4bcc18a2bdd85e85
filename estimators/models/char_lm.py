"""Character-level language models: the course's RNN (Embedding + LSTM or GRU) over a sequence of character ids.

Each reads ``chars`` [batch, steps] (ids of the training text's vocabulary, any
number of steps) and ends in the language model's head: a softmax over the
vocabulary at every step, the next character's distribution. The recurrent
layer returns its whole sequence, so one pass scores every position.
"""

from __future__ import annotations

import tensorflow as tf

from estimators.models.spec import ModelSpec
from estimators.tasks import compile_for_task, task_head
from input_fns.text_corpus import CHARS_INPUT

layers = tf.keras.layers
EMBEDDING_DIM = 32
RECURRENT_UNITS = 256  # the course's num_hiddens for The Time Machine


def _recurrent(spec: ModelSpec, cell, name: str) -> tf.keras.Model:
    inputs = tf.keras.Input(shape=(None,), dtype=tf.int32, name=CHARS_INPUT)
    x = layers.Embedding(spec.num_classes, EMBEDDING_DIM, name="embedding")(inputs)
    x = cell(RECURRENT_UNITS, return_sequences=True, name=name)(x)
    if spec.dropout:
        x = layers.Dropout(spec.dropout, name=f"{name}_dropout")(x)
    return compile_for_task(tf.keras.Model(inputs, task_head(x, spec), name=f"char_{name}"), spec)


def build_char_lstm(spec: ModelSpec) -> tf.keras.Model:
    return _recurrent(spec, layers.LSTM, "lstm")


def build_char_gru(spec: ModelSpec) -> tf.keras.Model:
    return _recurrent(spec, layers.GRU, "gru")
