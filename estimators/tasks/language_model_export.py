"""The language model's serving signature: a prompt in, a sampled continuation out, the loop inside the SavedModel.

``serving_default`` takes ``prompt`` (raw UTF-8 strings), ``length`` (characters
to add, per prompt) and ``temperature`` (per prompt; the next character is
drawn from the softmax of log p / temperature, so 1 samples the model and
small values approach its most likely character). The prompt is read as if it
started a line (a newline before it: an empty prompt starts a paragraph), its
characters looked up in the training vocabulary (an unknown one is id 0), and
the model sees the last ``context`` characters at each step, as it was trained.
It returns ``continuation`` and ``text`` (the prompt and its continuation).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from common.names import SERVING_KEY
from input_fns.text_corpus import CHARS_INPUT, name_char

PROMPT_INPUT, LENGTH_INPUT, TEMPERATURE_INPUT = "prompt", "length", "temperature"
CONTINUATION_OUTPUT, TEXT_OUTPUT = "continuation", "text"
MAX_LENGTH = 2000  # characters one request may ask for
MIN_TEMPERATURE = 1e-3


def vocabulary_of(class_names: tuple[str, ...]) -> tuple[str, ...]:
    """id -> character, from the source's class names (id 0, the unknown, is "")."""
    return tuple(name_char(name) for name in class_names)


def continuation_signatures(model: tf.keras.Model, class_names: tuple[str, ...], context: int) -> dict:
    """``{serving_default: prompt, length, temperature -> continuation, text}`` over ``model``."""
    vocabulary = vocabulary_of(class_names)
    # Code point -> id as a constant (no lookup table: nothing for the SavedModel to track); the last slot, 0,
    # takes every code point above the vocabulary's.
    ids_by_code = np.zeros(max(ord(c) for c in vocabulary if c) + 2, np.int32)
    for i, char in enumerate(vocabulary[1:], start=1):
        ids_by_code[ord(char)] = i
    lookup, top = tf.constant(ids_by_code), len(ids_by_code) - 1
    chars = tf.constant(vocabulary)
    start = vocabulary.index("\n") if "\n" in vocabulary else 0
    never_unknown = tf.constant([[-1e9] + [0.0] * (len(vocabulary) - 1)])

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name=PROMPT_INPUT),
            tf.TensorSpec([None], tf.int32, name=LENGTH_INPUT),
            tf.TensorSpec([None], tf.float32, name=TEMPERATURE_INPUT),
        ]
    )
    def serve(prompt, length, temperature):
        length = tf.clip_by_value(length, 0, MAX_LENGTH)
        codes = tf.strings.unicode_decode(prompt, "UTF-8", errors="replace")
        ids = tf.ragged.map_flat_values(lambda c: tf.gather(lookup, tf.clip_by_value(c, 0, top)), codes)
        # Left-padded with the start character, so every prompt's last character is the last column.
        ids = tf.reverse(tf.reverse(ids, axis=[1]).to_tensor(start), axis=[1])
        batch = tf.shape(prompt)[0]
        ids = tf.concat([tf.fill([batch, 1], start), tf.reshape(ids, [batch, -1])], axis=1)
        ids = tf.cast(ids, tf.int32)
        steps = tf.reduce_max(tf.concat([length, [0]], axis=0))
        inverse = 1.0 / tf.maximum(temperature, MIN_TEMPERATURE)

        def step(i, ids):
            probabilities = model({CHARS_INPUT: ids[:, -context:]}, training=False)[:, -1, :]
            logits = tf.math.log(tf.maximum(tf.cast(probabilities, tf.float32), 1e-12)) * inverse[:, None]
            logits += never_unknown  # id 0 stands for no character: never drawn
            drawn = tf.random.categorical(logits, 1, dtype=tf.int32)
            return i + 1, tf.concat([ids, drawn], axis=1)

        _, ids = tf.while_loop(
            lambda i, _: i < steps,
            step,
            (tf.constant(0), ids),
            shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, None])),
        )
        drawn = tf.strings.reduce_join(tf.gather(chars, ids[:, tf.shape(ids)[1] - steps :]), axis=1)
        continuation = tf.strings.substr(drawn, tf.zeros_like(length), length, unit="UTF8_CHAR")
        return {CONTINUATION_OUTPUT: continuation, TEXT_OUTPUT: tf.strings.join([prompt, continuation])}

    return {SERVING_KEY: serve.get_concrete_function()}
