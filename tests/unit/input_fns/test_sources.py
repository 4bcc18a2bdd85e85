"""The source registry and the task x source rules, which come from the task records (common.tasks)."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from common import tasks
from common.errors import UsageError
from common.params import SOURCES, DataParams
from input_fns import sources

FORECAST_LINE = "--task=forecasting reads --source=timeseries, and --source=timeseries is read for --task=forecasting"
MASKS_LINE = (
    "has no masks; segmentation reads a TFDS dataset with 'segmentation_mask' or --source=image_folder with --mask_dir"
)
LM_LINE = "--task=language_model reads --source=text_corpus, and --source=text_corpus is read for --task=language_model"
BOXES_LINE = "has no boxes; detection reads a TFDS dataset with 'objects/bbox' and 'objects/label'"
CLS = "--task=classification reads --source=tfds or --source=image_folder or --source=tfrecord or --source=csv or --source=arrays"
TEXT = "--task=text_classification reads --source=text_folder or --source=tfds or --source=csv"
# Every task x source pair as kestrel has always answered it: None (read), or the (flag, message) refusing it.
EXPECTED = {
    ("classification", "tfds"): None,
    ("classification", "image_folder"): None,
    ("classification", "tfrecord"): None,
    ("classification", "csv"): None,
    ("classification", "arrays"): None,
    ("classification", "timeseries"): ("source", FORECAST_LINE),
    ("regression", "tfds"): None,
    ("regression", "csv"): None,
    **{
        ("regression", s): ("task", f"--source={s} reads class labels; regression reads csv or tfds")
        for s in ("image_folder", "tfrecord", "arrays", "timeseries")
    },
    ("segmentation", "tfds"): None,
    ("segmentation", "image_folder"): None,
    **{
        ("segmentation", s): ("task", f"--source={s} {MASKS_LINE}") for s in ("tfrecord", "csv", "arrays", "timeseries")
    },
    **{("forecasting", s): ("task", FORECAST_LINE) for s in ("tfds", "image_folder", "tfrecord", "csv", "arrays")},
    ("forecasting", "timeseries"): None,
    ("classification", "text_corpus"): ("source", LM_LINE),
    ("regression", "text_corpus"): ("task", "--source=text_corpus reads class labels; regression reads csv or tfds"),
    ("segmentation", "text_corpus"): ("task", f"--source=text_corpus {MASKS_LINE}"),
    ("forecasting", "text_corpus"): ("task", FORECAST_LINE),
    **{
        ("language_model", s): ("task", LM_LINE)
        for s in ("tfds", "image_folder", "tfrecord", "csv", "arrays", "timeseries")
    },
    ("language_model", "text_corpus"): None,
    ("detection", "tfds"): None,
    **{
        ("detection", s): ("task", f"--source={s} {BOXES_LINE}")
        for s in ("image_folder", "tfrecord", "csv", "arrays", "timeseries", "text_corpus")
    },
    ("forecasting", "text_folder"): ("task", FORECAST_LINE),
    ("classification", "text_folder"): (
        "source",
        f"--source=text_folder is read for --task=text_classification; {CLS}",
    ),
    ("regression", "text_folder"): ("task", "--source=text_folder reads class labels; regression reads csv or tfds"),
    ("segmentation", "text_folder"): ("task", f"--source=text_folder {MASKS_LINE}"),
    **{
        ("text_classification", s): ("source", f"--source={s} is read for --task=classification; {TEXT}")
        for s in ("image_folder", "tfrecord", "arrays")
    },
    ("text_classification", "tfds"): None,  # a dataset's Text feature (input_fns/text_tfds.py)
    ("text_classification", "csv"): None,  # a text column (input_fns/text_csv.py)
    ("text_classification", "timeseries"): ("source", FORECAST_LINE),
    ("text_classification", "text_folder"): None,
    ("text_classification", "text_corpus"): ("source", LM_LINE),
    ("language_model", "text_folder"): ("task", LM_LINE),
    ("detection", "text_folder"): ("task", f"--source=text_folder {BOXES_LINE}"),
    **{
        (task, s): (
            "task",
            f"--task={task} makes its (corrupted, clean) image pairs from --source=tfds; not from --source={s}",
        )
        for task in ("super_resolution", "denoising")
        for s in ("image_folder", "tfrecord", "csv", "arrays", "timeseries", "text_corpus", "text_folder")
    },
    ("super_resolution", "tfds"): None,
    ("denoising", "tfds"): None,
    **{("gan", s): None for s in ("tfds", "image_folder", "tfrecord", "csv", "arrays")},
    ("gan", "timeseries"): ("source", FORECAST_LINE),
    ("gan", "text_corpus"): ("source", LM_LINE),
    ("gan", "text_folder"): (
        "source",
        "--source=text_folder is read for --task=text_classification; " + CLS.replace("classification", "gan"),
    ),
}


def test_the_registry_names_every_source_and_each_opens_from_its_own_module():
    assert tuple(sources.OPENERS) == SOURCES
    for name, target in sources.OPENERS.items():
        module, _, function = target.partition(":")
        assert function == "open" and module.startswith("input_fns.")
        assert sources.opener(name) is importlib.import_module(module).open


def test_an_unknown_source_is_one_usage_error_listing_the_allowed():
    with pytest.raises(UsageError, match=r"^--source: unknown source 'parquet'; allowed: tfds, image_folder, "):
        sources.opener("parquet")


def test_every_task_and_source_pair_is_read_or_refused_as_before():
    assert set(EXPECTED) == {(t, s) for t in tasks.TASKS for s in SOURCES}
    for (task, source), refusal in EXPECTED.items():
        if refusal is None:
            sources.check_task_reads(task, source)
            continue
        with pytest.raises(UsageError) as err:
            sources.check_task_reads(task, source)
        assert (err.value.flag, str(err.value)) == (refusal[0], f"--{refusal[0]}: {refusal[1]}"), (task, source)


def test_the_rules_follow_the_task_record_not_its_name(monkeypatch):
    # A task record that names one more source: the rules read it, with no edit in input_fns.
    wider = dataclasses.replace(tasks.TASKS["regression"], sources=("csv", "tfds", "arrays"))
    monkeypatch.setitem(tasks.TASKS, "regression", wider)
    sources.check_task_reads("regression", "arrays")
    with pytest.raises(UsageError, match="regression reads csv or tfds or arrays"):
        sources.check_task_reads("regression", "tfrecord")


def test_a_new_task_reading_masks_is_refused_like_segmentation(monkeypatch):
    masks = dataclasses.replace(tasks.TASKS["segmentation"], name="instances", sources=("image_folder",))
    monkeypatch.setitem(tasks.TASKS, "instances", masks)
    with pytest.raises(UsageError, match=r"^--task: --source=tfds has no masks; instances reads"):
        sources.check_task_reads("instances", "tfds")


@pytest.mark.parametrize(
    "task, source, flag",
    [
        ("classification", "tfds", "class_names"),  # its DatasetInfo names the classes
        ("classification", "image_folder", "class_names"),  # its class folders do
        ("segmentation", "tfds", "class_names"),
        ("segmentation", "image_folder", "image_dir"),  # a mask folder holds bare ids: names are welcome
        ("classification", "csv", "train_files"),
    ],
)
def test_class_names_go_only_to_sources_that_do_not_name_their_classes(task, source, flag):
    data = DataParams(task=task, source=source, class_names="a,b")
    with pytest.raises(UsageError) as err:
        sources.make_source(data)
    assert err.value.flag == flag
