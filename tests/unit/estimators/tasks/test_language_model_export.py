"""The language model's serving signature: prompt, length and temperature in; a continuation out."""

from __future__ import annotations

import tensorflow as tf

from estimators.models.char_lm import build_char_gru
from estimators.models.spec import ModelSpec
from estimators.tasks.language_model_export import continuation_signatures
from input_fns.text_corpus import UNKNOWN

NAMES = (UNKNOWN, "U+000A", "U+0020", "a", "b", "é")


def test_each_prompt_gets_its_own_length_of_vocabulary_characters():
    model = build_char_gru(ModelSpec(image=None, num_classes=len(NAMES), task="language_model", dropout=0))
    # A model sure of the unknown id (0, no character): the loop still draws real characters.
    model.get_layer("probabilities").bias.assign([10.0] + [0.0] * (len(NAMES) - 1))
    serve = continuation_signatures(model, NAMES, context=8)["serving_default"]
    out = serve(
        prompt=tf.constant(["ab", "", "zz é"]),  # 'z' is no character of the vocabulary
        length=tf.constant([5, 0, 12]),
        temperature=tf.constant([1.0, 1.0, 0.0]),  # 0: the most likely character (no division by zero)
    )
    continuations = [c.decode("utf-8") for c in out["continuation"].numpy()]
    assert [len(c) for c in continuations] == [5, 0, 12], continuations
    assert all(set(c) <= set("\n ab\u00e9") for c in continuations), continuations
    texts = [t.decode("utf-8") for t in out["text"].numpy()]
    assert texts == ["ab" + continuations[0], "", "zz é" + continuations[2]]
