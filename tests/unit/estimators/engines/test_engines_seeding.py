"""estimators.engines.seeding: one seed gives the same Python, NumPy and TensorFlow draws; determinism needs it."""

from __future__ import annotations

import random

import numpy as np
import pytest
import tensorflow as tf

from common.errors import UsageError
from estimators.engines import seeding


def _draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(tf.random.uniform([]))


def test_the_same_seed_gives_the_same_draws_from_every_generator():
    seeding.set_seeds(7)
    first = _draws()
    seeding.set_seeds(7)
    assert _draws() == first
    seeding.set_seeds(8)
    assert all(a != b for a, b in zip(_draws(), first, strict=True))


def test_no_seed_leaves_the_generators_alone():
    seeding.set_seeds(7)
    first = _draws()
    seeding.set_seeds(7)
    seeding.set_seeds(None)  # must not reseed: the draws continue seed 7's sequence
    assert _draws() == first


def test_op_determinism_without_a_seed_is_a_usage_error():
    with pytest.raises(UsageError, match="--deterministic_ops: op determinism needs a --seed"):
        seeding.set_seeds(None, deterministic_ops=True)
