"""estimators.engines.precision: the policy named is the one Keras builds layers in (bfloat16 without a GPU)."""

from __future__ import annotations

import pytest
import tensorflow as tf

from estimators.engines import precision


@pytest.fixture(autouse=True)
def _float32_after():
    yield
    tf.keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize(
    ("enabled", "on_tpu", "policy"),
    [(False, False, "float32"), (False, True, "float32"), (True, True, "mixed_bfloat16")],
)
def test_the_policy_returned_is_the_global_one(enabled, on_tpu, policy):
    assert precision.set_mixed_precision(enabled, on_tpu=on_tpu) == policy
    assert tf.keras.mixed_precision.global_policy().name == policy
    assert tf.keras.layers.Dense(1).compute_dtype == tf.keras.mixed_precision.global_policy().compute_dtype


def test_mixed_precision_without_a_gpu_computes_in_bfloat16():
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is visible: float16 is the policy there")
    assert precision.set_mixed_precision(True) == "mixed_bfloat16"
    assert tf.keras.layers.Dense(1).compute_dtype == "bfloat16"
