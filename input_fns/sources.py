"""The only way from ``DataParams`` to input functions: the registry of sources and the task x source rules.

    source = make_source(hp.data, seed=hp.training.seed)   # every data error is raised here
    source.meta.kind, source.meta.class_names               # what the model must fit
    train_fn = source.input_fn(TRAIN, pipeline_ops.FIT, batch_size, input_name, image_spec)

Three roles: ``train`` fits the model, ``validation`` chooses it (the best
export, early stopping, fine-tuning), ``test`` reports it. A source without
named validation data carves ``val_fraction`` off its training data; one
without test data has no test role, and the report says it is on validation.

A source is one module with one entry, ``open`` (the contract is
``input_fns.source_base``), registered here by name and imported when it is
used. Which task reads which source comes from the task records
(``common.tasks``: ``sources`` and ``labels``), never from a task's name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from common import tasks
from common.errors import UsageError
from common.params import SOURCES, DataParams
from common.tasks import BOXES, CLASSES, CLEAN_IMAGES, MASKS, NEXT_CHARS, VALUES, WINDOWS
from input_fns.pipeline_ops import PipelineOptions
from input_fns.source_base import FLATTENED, Opened, Source, SourceMeta, pipeline_options

__all__ = ["FLATTENED", "OPENERS", "Source", "SourceMeta", "check_task_reads", "make_source", "opener"]

# Each source's module and its opener: open(data, seed, options) -> (SourceMeta, factory).
OPENERS = {
    "tfds": "input_fns.tfds_source:open",
    "image_folder": "input_fns.image_folder:open",
    "tfrecord": "input_fns.tfrecord_source:open",
    "csv": "input_fns.csv_source:open",
    "arrays": "input_fns.array_source:open",
    "timeseries": "input_fns.timeseries_source:open",
    "text_corpus": "input_fns.text_corpus:open",
    "text_folder": "input_fns.text_source:open",
}
# The sources that name their own classes, and where; --class_names is for the others.
_NAMES_ITS_CLASSES = {"tfds": "its DatasetInfo", "image_folder": "its class folders"}
_NAMES_ITS_CLASSES["text_folder"] = "its class folders"
# ... except where what the task reads holds bare ids: a mask folder's pixels, which --class_names names.
_NAMES_GIVEN = {("image_folder", MASKS)}

Opener = Callable[[DataParams, "int | None", PipelineOptions], Opened]


def opener(name: str) -> Opener:
    """The ``open`` of source ``name`` (its module imported now: a run imports only the source it reads)."""
    if name not in OPENERS:
        raise UsageError("source", f"unknown source '{name}'; allowed: {', '.join(SOURCES)}")
    module, _, function = OPENERS[name].partition(":")
    return getattr(importlib.import_module(module), function)


def make_source(data: DataParams, seed: int | None = None) -> Source:
    """The source ``data`` names, scanned and checked."""
    task = tasks.get(data.task)
    where = _NAMES_ITS_CLASSES.get(data.source)
    if data.class_names and where and (data.source, task.labels) not in _NAMES_GIVEN:
        raise UsageError(
            "class_names", f"--source={data.source} names its classes ({where}); for tfrecord, csv, arrays"
        )
    open_source = opener(data.source)
    check_task_reads(data.task, data.source)
    if data.text_key and not task.reads_text:
        raise UsageError("text_key", f"names a TFDS Text feature or CSV column of text; not for --task={task.name}")
    meta, factory = open_source(data, seed, pipeline_options(data, seed))
    return Source(meta, factory, synthetic_data=data.synthetic, seed=seed)


def check_task_reads(task_name: str, source: str) -> None:
    """A usage error unless ``source`` is one of the sources the task's record names.

    The error is on --task when the task reads special labels the source does not hold (values, masks,
    windows), and on --source when the task reads class labels and the source feeds only other tasks.
    """
    task = tasks.get(task_name)
    if source in task.sources:
        return
    if task.labels != CLASSES:
        raise UsageError("task", _refusal(task, source))
    owner = next((t for t in tasks.TASKS.values() if source in t.sources), task)
    if owner.labels == CLASSES and owner is not task:  # two tasks of class labels, each with its own sources
        reads = " or ".join(f"--source={s}" for s in task.sources)
        raise UsageError(
            "source", f"--source={source} is read for --task={owner.name}; --task={task.name} reads {reads}"
        )
    raise UsageError("source", _refusal(owner, source))


def _refusal(task: tasks.Task, source: str) -> str:
    """Why ``task`` does not read ``source``, by what the task reads as its labels."""
    if task.labels == VALUES:
        return f"--source={source} reads class labels; {task.name} reads {' or '.join(task.sources)}"
    if task.labels == MASKS:
        from input_fns.segmentation import MASK_KEY  # its TFDS feature; the module imports TFDS

        return (
            f"--source={source} has no masks; {task.name} reads a TFDS dataset with "
            f"'{MASK_KEY}' or --source=image_folder with --mask_dir"
        )
    if task.labels == BOXES:
        return (
            f"--source={source} has no boxes; {task.name} reads a TFDS dataset with 'objects/bbox' and 'objects/label'"
        )
    reads = " or ".join(f"--source={s}" for s in task.sources)
    if task.labels in (WINDOWS, NEXT_CHARS):  # a source of its own, for this task only
        return f"--task={task.name} reads {reads}, and {reads} is read for --task={task.name}"
    if task.labels == CLEAN_IMAGES:
        return f"--task={task.name} makes its (corrupted, clean) image pairs from {reads}; not from --source={source}"
    return f"--source={source} holds no class labels; --task={task.name} reads {reads}"
