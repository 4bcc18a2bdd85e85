"""Training-only augmentation: off by default, each switch does what it says, seeded runs repeat."""

import numpy as np
import pytest
import tensorflow as tf

from common.errors import UsageError
from common.params import AugmentParams
from input_fns import array_source
from input_fns.augmentation import NO_AUGMENTATION, augment_image, crop_decoder, image_stages, rotate
from input_fns.pipeline_ops import EVALUATE, FIT, InputRequest, PipelineOptions
from input_fns.preprocessing import ImageSpec

pytestmark = pytest.mark.medium

SPEC = ImageSpec(8, 8, 3, "unit")


def _ramp() -> np.ndarray:
    """8x8 RGB with every pixel distinct: any flip or rotation changes it."""
    values = np.arange(64, dtype=np.uint8).reshape(8, 8) * 3
    return np.stack([values, 255 - values, np.full_like(values, 90)], axis=-1)


def _augmented(params: AugmentParams, seed: int, image: np.ndarray | None = None) -> np.ndarray:
    image = _ramp() if image is None else image
    out = augment_image(tf.constant(image), SPEC, params, tf.constant([seed, 7], tf.int64)).numpy()
    assert out.dtype == np.float32  # normalised for the model ("unit": [0, 1])
    return np.round(out * 255.0, 3)


def _outcomes(params: AugmentParams, seeds=range(24)) -> list[np.ndarray]:
    return [_augmented(params, s) for s in seeds]


def test_off_by_default():
    assert not NO_AUGMENTATION.enabled
    stages = image_stages(SPEC, training=True)
    assert stages.element is None


def test_flips_give_the_image_or_its_mirror():
    image = _ramp().astype(np.float32)
    seen_h = {_key(out, image, np.fliplr(image)) for out in _outcomes(AugmentParams(horizontal_flip=True))}
    seen_v = {_key(out, image, np.flipud(image)) for out in _outcomes(AugmentParams(vertical_flip=True))}
    assert seen_h == {"same", "flipped"} and seen_v == {"same", "flipped"}


def _key(out, same, flipped):
    if np.array_equal(out, same):
        return "same"
    if np.array_equal(out, flipped):
        return "flipped"
    return "other"


def test_rot90_gives_the_four_rotations():
    image = _ramp().astype(np.float32)
    rotations = [np.rot90(image, k).tobytes() for k in range(4)]
    seen = {rotations.index(out.tobytes()) for out in _outcomes(AugmentParams(rot90=True), range(40))}
    assert seen == {0, 1, 2, 3}


def test_rot90_needs_square_images():
    with pytest.raises(UsageError, match="--augment_rot90: needs square images"):
        image_stages(ImageSpec(8, 6, 3), training=True, augment=AugmentParams(rot90=True))
    image_stages(ImageSpec(8, 6, 3), training=False, augment=AugmentParams(rot90=True))  # EVALUATE never augments


def test_small_rotation_keeps_the_centre():
    image = np.zeros((9, 9, 3), np.uint8)
    image[4, 4] = 255
    rotated = rotate(tf.constant(image), tf.constant(0.2)).numpy()
    assert rotated.shape == (9, 9, 3) and rotated[4, 4, 0] == 255
    out = _augmented(AugmentParams(rotation_degrees=15), 1)
    assert out.shape == (8, 8, 3) and not np.array_equal(out, _ramp())


def test_zoom_crop_resizes_back_to_the_model_size():
    big = np.random.default_rng(0).integers(0, 255, (40, 30, 3), np.uint8)
    outs = [
        augment_image(tf.constant(big), SPEC, AugmentParams(zoom=0.5), tf.constant([s, 0], tf.int64)).numpy()
        for s in range(4)
    ]
    assert all(out.shape == (8, 8, 3) for out in outs)
    assert len({out.tobytes() for out in outs}) > 1


def test_color_jitter_varies_per_example():
    params = AugmentParams(hue=0.1, saturation=0.5, brightness=0.3, contrast=0.5)
    outs = _outcomes(params, range(8))
    assert len({out.tobytes() for out in outs}) == 8
    gray = np.full((8, 8, 3), 128, np.uint8)
    # Hue and saturation leave gray alone; brightness moves it.
    assert np.ptp(_augmented(AugmentParams(hue=0.5, saturation=1.0), 3, gray)) == 0
    assert not np.array_equal(_augmented(AugmentParams(brightness=0.5), 3, gray), gray)


@pytest.mark.parametrize(
    "field,value,flag",
    [("hue", 0.7, "augment_hue"), ("zoom", -1.0, "augment_zoom"), ("rotation_degrees", 200.0, "augment_rotation")],
)
def test_out_of_range_strengths_are_usage_errors(field, value, flag):
    with pytest.raises(UsageError, match=f"--{flag}"):
        AugmentParams(**{field: value})


def test_only_training_is_augmented_and_seeded_runs_repeat():
    images = np.stack([_ramp()] * 16)
    labels = np.zeros(16, np.int64)
    params = AugmentParams(horizontal_flip=True, vertical_flip=True, brightness=0.2)

    def first_batch(mode, seed):
        fn = array_source.input_fn(
            images, labels, InputRequest(mode, 16, "image", SPEC), PipelineOptions(seed=seed), params
        )
        return next(iter(fn()))[0]["image"].numpy()

    evaluated = first_batch(EVALUATE, 1)
    np.testing.assert_allclose(evaluated, np.broadcast_to(_ramp() / 255.0, evaluated.shape), atol=1e-6)
    trained = first_batch(FIT, 1)
    assert not np.allclose(trained, evaluated)
    np.testing.assert_array_equal(trained, first_batch(FIT, 1))
    assert not np.array_equal(trained, first_batch(FIT, 2))


def test_naive_and_tuned_pipelines_yield_the_same_examples():
    images = np.random.default_rng(0).integers(0, 255, (20, 10, 10, 3), np.uint8)
    labels = np.arange(20)

    def epoch(options):
        fn = array_source.input_fn(images, labels, InputRequest(EVALUATE, 6, "image", SPEC), options)
        return np.concatenate([y.numpy() for _, y in fn()])

    naive = PipelineOptions(parallel=False, prefetch=False)
    tuned = PipelineOptions(parallel=True, prefetch=True, cache="memory", deterministic=False)
    np.testing.assert_array_equal(epoch(naive), labels)  # deterministic order
    assert sorted(epoch(tuned)) == list(labels)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_zoom_crop_on_encoded_bytes_decodes_only_the_window(fmt):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 30, 3), np.uint8)).save(buffer, fmt)
    decode = crop_decoder(3)
    assert decode(tf.constant(buffer.getvalue()), None).shape == (40, 30, 3)
    window = lambda height, width: tf.stack([5, 4, height // 2, width // 2])  # noqa: E731
    assert decode(tf.constant(buffer.getvalue()), window).shape == (20, 15, 3)
    out = augment_image(tf.constant(buffer.getvalue()), SPEC, AugmentParams(zoom=0.5), tf.constant([1, 2]), decode)
    assert out.shape == (8, 8, 3) and out.dtype == tf.float32
