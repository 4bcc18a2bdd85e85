"""Detection through the front door: the embedded shapes dataset's boxes, both engines, image bytes in, boxes out.

Each engine trains the small detector once (module fixture). Its COCO mAP
(pycocotools) must beat the fixed-prior baseline the report computes, the export
must take image bytes and return boxes, classes and scores, and scripts.predict
must write each image with its boxes drawn. Bad boxes stop the run before
anything is written, naming the record.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from serving_client import served_image_prediction
from support import ShapesTask, predict_beside_a_broken_image, serving_signature, train_refused

pytestmark = pytest.mark.medium


def _tflite(engine: str, model_dir) -> tuple[str, ...]:
    return (f"--tflite_output_file={model_dir / 'detector.tflite'}",) if engine == "keras" else ()


SHAPES_TASK = ShapesTask(
    "detection", "detector", 32, 0.003, 150, "detections.png", "the images and their boxes", _tflite
)


def test_detection_report_beats_the_fixed_prior_baseline(shapes_report):
    run, report = shapes_report
    assert report["class_names"] == ["circle", "square", "triangle"]
    assert report["objects"] > 300, report  # 1 to 3 shapes an image
    # The baseline (each class's mean box at the centre) scores near 0: the model must find the shapes.
    assert report["map50"] > report["baseline_map50"] + 0.1, report
    assert report["map"] > report["baseline_map"] + 0.03, report
    assert min(report["ap"]) > 0.01, report  # every class is found, not one
    assert f"mAP@[.5:.95] {report['map']:.4f}, mAP@0.5 {report['map50']:.4f}" in run.stdout
    assert f"mAP@0.5 {report['baseline_map50']:.4f}" in run.stdout


def test_the_export_takes_bytes_and_predict_draws_the_boxes(shapes_runs, tmp_path):
    from input_fns.datasets.shapes.shapes_dataset_builder import draw_objects

    image, _, boxes, _ = draw_objects(np.random.default_rng(123))
    big = tf.image.resize(image, (96, 128)).numpy().astype(np.uint8)  # not the model's size: resized in the graph
    paths = [tmp_path / "img0.png", tmp_path / "img1.png"]
    for path, pixels in zip(paths, (image, big), strict=True):
        path.write_bytes(tf.io.encode_png(pixels).numpy())
    for engine, (model_dir, _) in shapes_runs.items():
        out = serving_signature(model_dir)(image_bytes=tf.constant([p.read_bytes() for p in paths]))
        assert out["boxes"].shape == (2, 20, 4) and out["scores"].shape == (2, 20), engine
        assert {n.decode() for n in out["class_names"].numpy()[0, : out["num_detections"][0]]} <= {
            "circle",
            "square",
            "triangle",
        }
        # The best box of the small image overlaps one of its true shapes.
        best = out["boxes"].numpy()[0, 0]
        assert max(_iou(best, truth) for truth in boxes) > 0.3, (engine, best, boxes)
        # Normalised boxes: the same image at another size gives nearly the same boxes.
        np.testing.assert_allclose(out["boxes"].numpy()[1, 0], best, atol=0.08)
        boxed = tmp_path / f"boxed_{engine}"
        cli = predict_beside_a_broken_image(model_dir, tmp_path, boxed, "--min_score=0.05")
        written = tf.io.decode_png((boxed / "img1_boxes.png").read_bytes()).numpy()
        assert written.shape == (96, 128, 3) and not np.array_equal(written, big), "boxes drawn at the image's size"
        header, first = cli.stdout.splitlines()[:2]
        assert header.split() == ["path", "boxes", "class", "score", "ymin", "xmin", "ymax", "xmax"]
        assert first.split()[2] in ("circle", "square", "triangle"), first


def test_rest_predict_on_image_bytes_returns_the_exports_boxes(shapes_runs, tmp_path):
    from input_fns.datasets.shapes.shapes_dataset_builder import draw_objects

    png = tf.io.encode_png(draw_objects(np.random.default_rng(7))[0]).numpy()
    model_dir, _ = shapes_runs["keras"]
    expected = serving_signature(model_dir)(image_bytes=tf.constant([png]))
    row = served_image_prediction(model_dir, png, tmp_path)
    np.testing.assert_allclose(row["boxes"], expected["boxes"].numpy()[0], atol=1e-5)
    assert row["class_names"] == [n.decode() for n in expected["class_names"].numpy()[0]]
    assert len(row["scores"]) == 20 and row["num_detections"] == int(expected["num_detections"][0])


def test_tflite_returns_the_grid_that_decodes_to_the_exports_boxes(shapes_runs):
    """TFLite has no combined NMS builtin: the .tflite gives the grid, and the client decodes it (as here)."""
    from estimators.tasks.detection import decode
    from input_fns.datasets.shapes.shapes_dataset_builder import draw_objects

    model_dir, _ = shapes_runs["keras"]
    image = draw_objects(np.random.default_rng(11))[0]
    interpreter = tf.lite.Interpreter(model_path=str(model_dir / "detector.tflite"))
    interpreter.allocate_tensors()
    (pixels,), (output,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert list(pixels["shape"]) == [1, 64, 64, 3] and list(output["shape"]) == [1, 16, 16, 3 + 4]
    interpreter.set_tensor(pixels["index"], image[None].astype(np.float32))
    interpreter.invoke()
    boxes = decode(tf.constant(interpreter.get_tensor(output["index"])), 3)["boxes"].numpy()
    expected = serving_signature(model_dir)(image_bytes=tf.constant([tf.io.encode_png(image).numpy()]))["boxes"].numpy()
    np.testing.assert_allclose(boxes[0, :3], expected[0, :3], atol=1e-3)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter
    return float(inter / union)


@pytest.fixture(scope="module")
def bad_boxes_dir(tmp_path_factory):
    """A TFDS data_dir with one small dataset per fault (objects/bbox as a plain Tensor: TFDS's BBoxFeature
    would refuse them while writing), each with one bad record among good ones."""
    import tensorflow_datasets as tfds

    data_dir = str(tmp_path_factory.mktemp("bad_boxes"))
    features = tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=(16, 16, 3)),
            "objects": tfds.features.Sequence(
                {
                    "bbox": tfds.features.Tensor(shape=(4,), dtype=np.float32),
                    "label": tfds.features.ClassLabel(names=["a", "b"]),
                }
            ),
        }
    )
    faults = {"outside": [[0.1, 0.1, 1.5, 0.5]], "empty": np.zeros((0, 4)), "ill_formed": [[0.6, 0.1, 0.2, 0.5]]}
    for fault, bad in faults.items():

        def examples(bad=bad):
            for i in range(5):
                boxes = np.asarray(bad if i == 2 else [[0.1, 0.1, 0.5, 0.5]], np.float32).reshape(-1, 4)
                yield {"image": np.zeros((16, 16, 3), np.uint8), "objects": {"bbox": boxes, "label": [0] * len(boxes)}}

        ds = tf.data.Dataset.from_generator(examples, output_signature=features.get_tensor_spec())
        tfds.dataset_builders.store_as_tfds_dataset(
            name=f"boxes_{fault}", version="1.0.0", features=features, split_datasets={"train": ds}, data_dir=data_dir
        )
    return data_dir


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("outside", "[0.1, 0.1, 1.5, 0.5] is outside the image; allowed: normalised coordinates in [0, 1]"),
        ("empty", "has no boxes; every example needs at least one object"),
        ("ill_formed", "[0.6, 0.1, 0.2, 0.5] is ill-formed; allowed: ymin < ymax and xmin < xmax"),
    ],
)
def test_bad_boxes_are_one_line_naming_the_record(bad_boxes_dir, tmp_path, fault, words):
    dataset = f"--dataset=boxes_{fault}"
    line = train_refused(bad_boxes_dir, tmp_path, dataset, "--test_split=", "--task=detection", "--model=detector")
    assert line.startswith(f"error: --dataset: 'boxes_{fault}' train[") and words in line, line
    assert f"of boxes_{fault}-train.tfrecord-00000-of-00001: " in line, line


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--dataset=digits", "--task=detection", "--model=detector"), ("--task", "'objects' with 'bbox'")),
        (("--dataset=shapes", "--task=detection"), ("--task", "'small_cnn'", "detector")),
        (("--dataset=shapes", "--task=detection", "--model=detector", "--augment_hflip"), ("--augment_*", "boxes")),
    ],
    ids=["no_objects", "model", "augment"],  # every source but tfds: tests/unit/input_fns/test_sources.py
)
def test_detection_misfits_are_one_line_usage_errors(tfds_data_dir, tmp_path, args, words):
    line = train_refused(tfds_data_dir, tmp_path, *args)
    assert all(word in line for word in words), line
