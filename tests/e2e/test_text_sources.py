"""Text classification from the other ways in, through the front door: a TFDS dataset by name
(a real GeneratorBasedBuilder prepared into a tmp data_dir, read back from its files by the
training process, which cannot import the builder) and CSV columns.

Both hold the embedded review corpus (input_fns/review_corpus.py: a bag of words scores about
0.62, a model reading word order beats it by a margin), so the report's baseline is the class
folders' one. One run per engine and way in is shared by the module.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from support import finished_run, latest_export, one_error_line, run_script, train, train_refused

from input_fns import review_corpus

pytestmark = pytest.mark.medium

DATASET = "kestrel_text_reviews"
BASE = ("--task=text_classification", "--batch_size=32", "--eval_throttle_secs=0")
ESTIMATOR = ("--engine=estimator", "--model=text_conv1d", "--train_steps=200", "--learning_rate=0.005")
KERAS = ("--engine=keras", "--model=text_bilstm", "--train_steps=300", "--learning_rate=0.01")
REFUSED = (*BASE, "--model=text_conv1d", "--train_steps=1")  # refused before any step
MARGIN = 0.15  # over the bag-of-words baseline, as for the class folders
TITLES = ("a review", "my view")


def _reviews(count: int, seed: int) -> list[tuple[str, int]]:
    return review_corpus.reviews(count, np.random.default_rng(seed))


def prepare_tfds(data_dir: Path) -> None:
    """``kestrel_text_reviews`` (text, title: Text; label: ClassLabel) and ``kestrel_no_text`` prepared
    in ``data_dir`` by real GeneratorBasedBuilders defined here, in the test process only."""
    import tensorflow_datasets as tfds

    class KestrelTextReviews(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            features = {"text": tfds.features.Text(), "title": tfds.features.Text()}
            features["label"] = tfds.features.ClassLabel(names=list(review_corpus.CLASSES))
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(features))

        def _split_generators(self, dl_manager):
            sizes = {"train": review_corpus.TRAIN_REVIEWS, "test": review_corpus.TEST_REVIEWS}
            return {split: self._generate_examples(split, size) for split, size in sizes.items()}

        def _generate_examples(self, split, size):
            for i, (text, label) in enumerate(_reviews(size, 1 if split == "train" else 2)):
                yield i, {"text": text, "title": TITLES[i % 2], "label": label}

    class KestrelNoText(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            features = {"value": tfds.features.Scalar(np.float32), "label": tfds.features.ClassLabel(num_classes=2)}
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(features))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(), "test": self._generate_examples()}

        def _generate_examples(self):
            for i in range(20):
                yield i, {"value": float(i), "label": i % 2}

    for builder in (KestrelTextReviews, KestrelNoText):
        builder(data_dir=str(data_dir)).download_and_prepare()


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "review", "sentiment"])
        writer.writerows((i, text, label) for i, (text, label) in enumerate(rows))
    return path


@pytest.fixture(scope="module")
def text_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("text_sources")
    prepare_tfds(root / "tfds")
    for name, count, seed in (("train", review_corpus.TRAIN_REVIEWS, 1), ("test", review_corpus.TEST_REVIEWS, 2)):
        rows = [(text, review_corpus.CLASSES[label]) for text, label in _reviews(count, seed)]
        write_csv(root / f"{name}.csv", rows)
    return root


def _csv_args(root: Path) -> tuple[str, ...]:
    files = (f"--train_files={root / 'train.csv'}", f"--test_files={root / 'test.csv'}")
    return ("--source=csv", *files, "--text_key=review", "--label_key=sentiment")


def _tfds_args(root: Path) -> tuple[str, ...]:
    return ("--source=tfds", f"--dataset={DATASET}")  # train() names --data_dir: root / "tfds"


# run -> (way in, engine): both engines on the TFDS dataset, the CSV (the same rows after reading) on the Keras one.
RUNS = {
    "tfds-estimator": (_tfds_args, ESTIMATOR),
    "tfds-keras": (_tfds_args, KERAS),
    "csv-keras": (_csv_args, KERAS),
}


@pytest.fixture(scope="module")
def text_runs(text_data, tmp_path_factory):
    """run -> (model_dir, completed scripts.train), the gate on as by default."""
    runs = {}
    for name, (way_in, engine) in RUNS.items():
        model_dir = tmp_path_factory.mktemp(name)
        runs[name] = (model_dir, train(text_data / "tfds", model_dir, *BASE, *way_in(text_data), *engine))
    return runs


@pytest.mark.parametrize("name", list(RUNS))
def test_each_way_in_beats_the_bag_of_words_baseline(text_runs, name):
    model_dir, run, report = finished_run(text_runs, name)
    assert report["split"].startswith("test") and report["examples"] == 500, report
    assert 0.5 < report["baseline_accuracy"] < 0.75, report
    assert report["accuracy"] > report["baseline_accuracy"] + MARGIN, report
    assert "negative" in run.stdout and "positive" in run.stdout
    labels = Path(latest_export(model_dir)) / "assets.extra" / "labels.txt"
    assert labels.read_text().split() == list(review_corpus.CLASSES)
    assert "examples clean" in run.stdout, run.stdout[-2000:]  # the gate ran on the texts


@pytest.mark.parametrize(
    ("args", "flag", "words"),
    [
        (("--dataset=kestrel_no_text",), "dataset", ("'kestrel_no_text' has no Text feature", "tfds.features.Text")),
        (("--text_key=label",), "text_key", ("'label' is not a Text feature", "allowed: text, title")),
    ],
    ids=["no-text-feature", "text_key-not-text"],
)
def test_a_tfds_dataset_without_that_text_is_one_line(text_data, tmp_path, args, flag, words):
    line = train_refused(text_data / "tfds", tmp_path, *REFUSED, *_tfds_args(text_data), *args)
    assert line.startswith(f"error: --{flag}: ") and all(word in line for word in words), line


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"review,sentiment\nfine,positive\n,negative\n", ("bad.csv' line 3", "column 'review' is empty")),
        (b"review,sentiment\nfine,positive\ndull,\n", ("bad.csv' line 3", "column 'sentiment' is empty")),
        (b"review,sentiment\nfine,positive\ncaf\xe9 was dull,negative\n", ("bad.csv' line 3", "0xe9 is not UTF-8")),
    ],
    ids=["empty-text", "empty-class", "not-utf8"],
)
def test_a_bad_csv_cell_is_one_line_naming_file_and_line(text_data, tmp_path, data, words):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(data)
    args = ("--source=csv", f"--train_files={text_data / 'train.csv'}", "--text_key=review", "--label_key=sentiment")
    line = train_refused(tmp_path, tmp_path, *REFUSED, *args, f"--test_files={bad}")
    assert line.startswith("error: --test_files: ") and all(word in line for word in words), line


def test_csv_text_needs_its_column(text_data, tmp_path):
    files = (f"--train_files={text_data / 'train.csv'}", "--label_key=sentiment")
    line = train_refused(tmp_path, tmp_path, *REFUSED, "--source=csv", *files)
    assert line.startswith("error: --text_key: not set"), line
    line = train_refused(tmp_path, tmp_path, *REFUSED, "--source=csv", *files, "--text_key=text")
    assert "no column 'text'" in line and "['id', 'review', 'sentiment']" in line, line


def test_text_key_is_refused_where_no_text_is_read(text_data, tmp_path):
    args = ("--task=classification", "--source=csv", f"--train_files={text_data / 'train.csv'}", "--text_key=review")
    line = one_error_line(train(tmp_path, tmp_path / "never", *args, "--label_key=sentiment"))
    assert line.startswith("error: --text_key: ") and "not for --task=classification" in line, line


def test_predict_texts_gives_the_reports_accuracy_on_the_test_rows(text_runs, tmp_path):
    """The test split's reviews, one per line, through the TFDS runs' and the CSV run's exports (raw strings in)."""
    test = _reviews(review_corpus.TEST_REVIEWS, 2)
    (tmp_path / "reviews.txt").write_text("".join(text + "\n" for text, _ in test))
    for name in ("tfds-estimator", "tfds-keras", "csv-keras"):
        model_dir, _, report = finished_run(text_runs, name)
        out = run_script(
            "scripts.predict", f"--export_dir={latest_export(model_dir)}", f"--texts={tmp_path / 'reviews.txt'}"
        )
        assert out.returncode == 0, out.stderr[-2000:]
        predicted = [row.split()[1] for row in out.stdout.strip().splitlines()[1:]]
        right = sum(p == review_corpus.CLASSES[label] for p, (_, label) in zip(predicted, test, strict=True))
        assert right / len(test) == pytest.approx(report["accuracy"], abs=1e-9), name


def test_a_text_dataset_is_refused_for_a_task_reading_numbers(text_data, tmp_path):
    args = ("--task=classification", "--model=dnn", *_tfds_args(text_data))
    line = train_refused(text_data / "tfds", tmp_path, *args)
    assert line == f"error: --task: '{DATASET}' holds text (text, title); --task=text_classification reads it", line
