"""The image_folder source opened on its own: classes from its folders, or masks when the task reads masks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from common.errors import UsageError
from common.params import IMAGES, TRAIN, VALIDATION, DataParams
from input_fns import image_folder
from input_fns.pipeline_ops import DEFAULT_OPTIONS, PREDICT, InputRequest
from input_fns.preprocessing import ImageSpec


@pytest.fixture()
def tree(tmp_path) -> str:
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        for i in range(5):
            Image.fromarray(np.full((6, 6, 3), 40 * i, np.uint8)).save(tmp_path / name / f"{i}.png")
    return str(tmp_path)


def test_classes_are_its_folders_and_validation_is_carved_per_class(tree):
    meta, factory = image_folder.open(DataParams(source="image_folder", image_dir=tree), 0, DEFAULT_OPTIONS)
    assert (meta.kind, meta.class_names, meta.gate_format) == (IMAGES, ("cat", "dog"), "images")
    assert meta.split_sizes == {TRAIN: 8, VALIDATION: 2}
    assert meta.split_names == {TRAIN: tree, VALIDATION: "the last 20% of the training data"}
    images = next(iter(factory(VALIDATION, InputRequest(PREDICT, 2, "image", ImageSpec(4, 4, 3)))()))
    assert images["image"].shape == (2, 4, 4, 3)


def test_a_task_reading_masks_opens_the_mask_folder(tree):
    data = DataParams(source="image_folder", task="segmentation", image_dir=tree)
    with pytest.raises(UsageError, match=r"^--mask_dir: not set; --task=segmentation on --source=image_folder"):
        image_folder.open(data, 0, DEFAULT_OPTIONS)


def test_no_image_dir_is_one_usage_error():
    with pytest.raises(UsageError, match=r"^--image_dir: not set; the image_folder source reads one subfolder"):
        image_folder.open(DataParams(source="image_folder"), 0, DEFAULT_OPTIONS)
