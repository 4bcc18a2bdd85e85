"""Texts from a TFDS dataset by name (``--source=tfds --task=text_classification --dataset=imdb_reviews``).

A dataset of a ``tfds.features.Text`` and a ``ClassLabel`` (imdb_reviews: text/label; ag_news_subset:
description, title/label): ``--text_key`` names the Text feature (default: the dataset's first), and
every role's texts are read into memory and checked (not blank) before training. They become the TEXT
source ``text_source.opened`` builds, so the vocabulary (adapted on the training role only), the
models, the export and the report are the class folders' own. The gate validates the training split's
own TFRecord shards (the "tfrecord" reader, the texts a bytes feature), as it does for TFDS images.
"""

from __future__ import annotations

import tensorflow_datasets as tfds

from common.errors import UsageError
from common.params import DataParams
from input_fns.pipeline_ops import PipelineOptions
from input_fns.source_base import Opened
from input_fns.text_files import decode_text
from input_fns.text_source import TextFolder, opened


def text_features(builder: tfds.core.DatasetBuilder) -> list[str]:
    """The names of the dataset's ``tfds.features.Text`` features, in its order."""
    return [name for name, feature in builder.info.features.items() if isinstance(feature, tfds.features.Text)]


def text_key(builder: tfds.core.DatasetBuilder, given: str | None) -> str:
    """``given``, or the dataset's first Text feature; a dataset without one, or a ``given`` that is
    not one, is a usage error listing the Text features there are."""
    features = builder.info.features
    texts = text_features(builder)
    name = builder.info.name
    if not texts:
        raise UsageError(
            "dataset",
            f"'{name}' has no Text feature (features: {sorted(features)}); --task=text_classification reads a "
            "dataset with a tfds.features.Text and a ClassLabel, such as imdb_reviews",
        )
    if given and given not in texts:
        raise UsageError("text_key", f"'{given}' is not a Text feature of '{name}'; allowed: {', '.join(texts)}")
    return given or texts[0]


def _label(builder: tfds.core.DatasetBuilder, label_key: str) -> tfds.features.ClassLabel:
    feature = dict(builder.info.features.items()).get(label_key)
    if not isinstance(feature, tfds.features.ClassLabel):
        classes = [n for n, f in builder.info.features.items() if isinstance(f, tfds.features.ClassLabel)]
        raise UsageError(
            "label_key", f"'{label_key}' is not a ClassLabel of '{builder.info.name}'; allowed: {', '.join(classes)}"
        )
    return feature


def read_split(builder: tfds.core.DatasetBuilder, split: str, key: str, label_key: str) -> TextFolder:
    """Every (text, class id) of ``split``; a blank text is a usage error naming the split and the example."""
    texts, labels = [], []
    shown = f"{builder.info.name} {split}"
    for i, example in enumerate(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False))):
        texts.append(decode_text(example[key], f"{shown} example {i}", "dataset"))
        labels.append(int(example[label_key]))
    return TextFolder(tuple(texts), tuple(labels), tuple(shown for _ in texts))


def open_tfds(data: DataParams, builder, splits: dict[str, str], train_files, options: PipelineOptions, gate) -> Opened:
    """The roles ``splits`` names (tfds_source.role_splits), as texts and the ClassLabel's ids."""
    key = text_key(builder, data.text_key)
    label = _label(builder, data.label_key)
    folders = {role: read_split(builder, split, key, data.label_key) for role, split in splits.items()}
    name = builder.info.name
    return opened(name, tuple(label.names), folders, splits, options, tuple(train_files), "tfrecord", **gate)
