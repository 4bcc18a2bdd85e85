"""shapes dataset: TFDS's own builder test (`tfds new`'s layout), run by pytest or `python -m` this module."""

import numpy as np

from input_fns.datasets import builder_testing
from input_fns.datasets.shapes import shapes_dataset_builder

SPLITS = {"train": 800, "test": 200}


class ShapesTest(builder_testing.builder_test_case("ShapesCase", shapes_dataset_builder.Builder, SPLITS)):
    def test_each_box_bounds_visible_pixels_of_its_shape_and_they_cover_the_mask(self):
        rng = np.random.default_rng(0)  # the train split's seed
        size = shapes_dataset_builder.SIZE
        for _ in range(100):
            _, mask, boxes, labels = shapes_dataset_builder.draw_objects(rng)
            self.assertTrue(1 <= len(boxes) == len(labels))
            covered = np.zeros((size, size), bool)
            for box, label in zip(boxes, labels, strict=True):
                top, left, bottom, right = (np.asarray(box) * size).round().astype(int)
                inside = mask[top:bottom, left:right, 0] == label + 1
                # Tight: the shape's pixels reach each edge of its box.
                self.assertTrue(inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any())
                covered[top:bottom, left:right] |= inside
            self.assertTrue((covered == (mask[..., 0] > 0)).all())


if __name__ == "__main__":
    builder_testing.main()
