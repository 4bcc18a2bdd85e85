"""Classify image files (or every image in a folder) with an exported SavedModel.

python -m scripts.predict --export_dir=/tmp/kestrel/digits/export/serving/<timestamp> --images=some_folder --format=table
"""

from __future__ import annotations

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
from absl import flags

from estimators.serving import predict as prediction

flags.DEFINE_string("export_dir", None, "An exported SavedModel (a timestamped folder under <model_dir>/export/).")
flags.DEFINE_list("images", None, "Image files and/or folders (PNG, JPEG, BMP, GIF).")
flags.DEFINE_enum("format", "table", list(prediction.FORMATS), "Output format.")
flags.DEFINE_integer("top_k", 3, "Classes listed per image.", lower_bound=1)
flags.mark_flags_as_required(["export_dir", "images"])
FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    del argv
    paths = prediction.image_paths(FLAGS.images)
    print(prediction.format_predictions(prediction.predict_files(FLAGS.export_dir, paths, FLAGS.top_k), FLAGS.format))


if __name__ == "__main__":
    cli.run(main)
