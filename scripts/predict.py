"""Predict with an exported SavedModel: image files (or every image in a folder), or the rows of a CSV file.

python -m scripts.predict --export_dir=/tmp/kestrel/digits/export/serving/<timestamp> --images=some_folder --format=table
python -m scripts.predict --export_dir=runs/diabetes/export/serving/<timestamp> --rows=patients.csv
python -m scripts.predict --export_dir=runs/climate/export/serving/<timestamp> --rows=last_week.csv
python -m scripts.predict --export_dir=runs/pydoc/export/serving/<timestamp> --texts=prompts.txt --length=100
python -m scripts.predict --export_dir=runs/reviews/export/serving/<timestamp> --texts=reviews.txt

python -m scripts.predict --export_dir=runs/gan/export/serving/<timestamp> --samples=64 --seed=0 --output_dir=samples/

A GAN's export draws --samples images from seeded noise: a PNG each and a grid (samples.png).
A forecasting export reads --rows as consecutive rows of a series and forecasts after each row
that ends a full window.

Every file is predicted on its own merits: one that does not decode gets no prediction and
one ``error: <path>: <reason>`` line on stderr; the others are printed, and the exit status is 1.
"""

from __future__ import annotations

import sys

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
from absl import flags

from estimators.serving import predict as prediction
from estimators.serving import (
    predict_boxes,
    predict_continuations,
    predict_images,
    predict_masks,
    predict_rows,
    predict_samples,
    predict_texts,
)

flags.DEFINE_string("export_dir", None, "An exported SavedModel (a timestamped folder under <model_dir>/export/).")
flags.DEFINE_list("images", None, "Image files and/or folders (PNG, JPEG, BMP, GIF).")
flags.DEFINE_string(
    "rows",
    None,
    "A tabular model's input: a CSV file with a column per feature, values as recorded "
    "(a forecasting model's: consecutive rows of the series, with its time column).",
)
flags.DEFINE_string(
    "texts", None, "A UTF-8 text file, a text a line: a text classifier's class, or a language model's continuation."
)
flags.DEFINE_integer("length", 200, "--texts: characters a language model adds to each prompt.", lower_bound=0)
flags.DEFINE_float("temperature", 1.0, "--texts: sampling temperature (1 samples the model; small: near greedy).")
flags.DEFINE_string(
    "output_dir",
    None,
    "Segmentation models: the folder for the mask PNGs (<image>_mask.png); detection models: for each image "
    "with its boxes drawn (<image>_boxes.png); image-restoration models: for the restored PNGs "
    "(<image>_upscaled.png, <image>_denoised.png); GANs: for the samples.",
)
flags.DEFINE_float("min_score", 0.3, "Detection models: the boxes drawn and listed score at least this.")
flags.DEFINE_integer("samples", None, "A GAN's export: how many images to draw.", lower_bound=1, upper_bound=10000)
flags.DEFINE_integer("seed", 0, "A GAN's export: the seed of the noise --samples draws from.")
flags.DEFINE_enum("format", "table", list(prediction.FORMATS), "Output format.")
flags.DEFINE_integer("top_k", 3, "Classes listed per image.", lower_bound=1)
flags.mark_flags_as_required(["export_dir"])
flags.register_multi_flags_validator(
    ["images", "rows", "texts", "samples"],
    lambda v: sum(v[name] is not None for name in v) == 1,
    "give exactly one of --images, --rows, --texts, --samples",
)
FLAGS = flags.FLAGS

PARTIAL_EXIT = 1  # some files got no prediction (each named on stderr)


def main(argv: list[str]) -> int:
    del argv
    if FLAGS.samples:
        paths = predict_samples.predict_samples(FLAGS.export_dir, FLAGS.samples, FLAGS.seed, FLAGS.output_dir)
        print(f"wrote {len(paths) - 1} samples (seed {FLAGS.seed}) and their grid {paths[-1]}", flush=True)
        return 0
    if FLAGS.texts:
        if predict_continuations.takes_prompts(FLAGS.export_dir):
            texts = predict_continuations.predict_texts(FLAGS.export_dir, FLAGS.texts, FLAGS.length, FLAGS.temperature)
            print(predict_continuations.format_texts(texts, FLAGS.format), flush=True)
        else:
            print(predict_texts.format_texts(predict_texts.predict_texts(FLAGS.export_dir, FLAGS.texts), FLAGS.format))
        return 0
    if FLAGS.rows:
        rows, unused = predict_rows.predict_rows(FLAGS.export_dir, FLAGS.rows)
        print(predict_rows.format_rows(rows, FLAGS.format), flush=True)
        if unused:
            print(f"columns not read (the model does not take them): {', '.join(unused)}", file=sys.stderr)
        return 0
    paths, skipped = prediction.image_paths(FLAGS.images)
    failures = _predicted(paths) if paths else []
    for failure in skipped + failures:
        print(f"error: {failure.path}: {failure.reason}", file=sys.stderr)
    if not skipped and not failures:
        return 0
    total = len(paths) + len(skipped)
    print(
        f"error: {len(skipped) + len(failures)} of {total} files not predicted (listed above)",
        file=sys.stderr,
        flush=True,
    )
    return PARTIAL_EXIT


def _predicted(paths: list[str]) -> list:
    """Prints the predictions of ``paths``; returns the files that got none."""
    signature = prediction.load_signature(FLAGS.export_dir)
    if predict_masks.is_segmentation(signature):
        masks, failures = predict_masks.predict_masks(FLAGS.export_dir, paths, FLAGS.output_dir)
        print(predict_masks.format_masks(masks, FLAGS.format), flush=True)
    elif predict_boxes.is_detection(signature):
        boxed, failures = predict_boxes.predict_boxes(FLAGS.export_dir, paths, FLAGS.output_dir, FLAGS.min_score)
        print(predict_boxes.format_boxes(boxed, FLAGS.format), flush=True)
    elif predict_images.is_image_output(signature):
        images, failures = predict_images.predict_images(FLAGS.export_dir, paths, FLAGS.output_dir)
        print(predict_images.format_images(images, FLAGS.format), flush=True)
    else:
        predictions, failures = prediction.predict_files(FLAGS.export_dir, paths, FLAGS.top_k)
        print(prediction.format_predictions(predictions, FLAGS.format), flush=True)
    return failures


if __name__ == "__main__":
    cli.run(main)
