"""Every flag of scripts.train, run on the smallest setting: an observable effect, or a one-line usage error.

One row per flag (some flags have a second row for a context where they are silently ignored,
marked xfail strict: a product bug). A meta-test checks that the table names exactly the flags
the scripts.flags modules define, so a flag added later without a row fails the suite.

The runs go through tests/flag_effects_harness.py: scripts.train imported once, its absl main
run through scripts.cli.run per row. Rows whose args are the same share one run. The few rows
that need a fresh TensorFlow (logical CPU devices) or may hang in C++ (a download without
network) run in their own subprocess through conftest.run_script, with a timeout.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from flag_effects_harness import Harness
from support import cats_and_dogs, png, run_script

from input_fns import climate_series

pytestmark = pytest.mark.medium

TIMES: dict[str, float] = {}


# --- runs -----------------------------------------------------------------------------------------


@dataclasses.dataclass
class Run:
    args: list[str]
    model_dir: Path
    exit_code: int
    stdout: str
    stderr: str
    timeout: bool = False
    traceback: bool = False
    policy: str = ""
    op_determinism: bool = False

    # What a check reads.
    def ok(self) -> Run:
        assert self.exit_code == 0 and not self.timeout, f"{self.args}\n{self.stderr[-3000:]}"
        return self

    def graph(self) -> str:
        return (self.model_dir / "graph.pbtxt").read_text()

    def ops(self) -> collections.Counter:
        return collections.Counter(re.findall(r'\bop: "(\w+)"', self.graph()))

    def variables(self, sub: str = "") -> dict[str, list[int]]:
        return dict(tf.train.list_variables(str(self.model_dir / sub)))

    def value(self, name: str, sub: str = "") -> np.ndarray:
        return tf.train.load_variable(str(self.model_dir / sub), name)

    def figure(self, label: str) -> str:
        line = next(line for line in self.stdout.splitlines() if line.startswith(label))
        return line[len(label) :].strip()

    def scalars(self, tag: str, sub: str = "") -> dict[int, float]:
        values = {}
        for path in sorted((self.model_dir / sub).glob("events.out.tfevents.*")):
            for event in tf.compat.v1.train.summary_iterator(str(path)):
                for v in event.summary.value:
                    if v.tag == tag:
                        values[event.step] = (
                            float(tf.make_ndarray(v.tensor)) if v.HasField("tensor") else v.simple_value
                        )
        return values

    def checkpoints(self) -> list[str]:
        return sorted(p.name for p in self.model_dir.glob("model.ckpt-*.index"))


def one_line_error(run: Run, flag: str, *words: str) -> None:
    """Exit 2, one line on stderr naming --flag (and words), no traceback, no hang."""
    assert not run.timeout, f"{run.args}: still running at the timeout (a hang)"
    lines = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert run.exit_code == 2 and len(lines) == 1, f"{run.args}: exit {run.exit_code}\n{run.stderr[-3000:]}"
    assert not run.traceback and "Traceback" not in run.stderr, run.stderr[-3000:]
    assert f"--{flag}" in lines[0] and all(w in lines[0] for w in words), lines[0]


class Runner:
    """Runs rows through the harness; the same args run once."""

    def __init__(self, harness: Harness, base: list[str], root: Path):
        self.harness, self.base, self.root = harness, base, root
        self._cache: dict[tuple, Run] = {}
        self._n = 0

    def __call__(self, *args: str, base: bool = True, timeout: int = 120, before=None, model_dir=None) -> Run:
        key = (base, model_dir, *args)
        if key in self._cache:
            return self._cache[key]
        self._n += 1
        model_dir = model_dir or self.root / f"run{self._n}"
        if before is not None:
            before(model_dir)
        full = [*(self.base if base else []), f"--model_dir={model_dir}", *args]
        r = self.harness.run(full, timeout=timeout)
        run = Run(
            full,
            model_dir,
            r["exit_code"],
            r["stdout"],
            r["stderr"],
            r["timeout"],
            r["traceback"],
            r.get("policy", ""),
            r.get("op_determinism", False),
        )
        self._cache[key] = run
        return run

    def subprocess(self, *args: str, timeout: int = 120) -> Run:
        self._n += 1
        model_dir = self.root / f"run{self._n}"
        full = [*self.base, f"--model_dir={model_dir}", *args]
        try:
            r = run_script("scripts.train", *full, timeout=timeout)
            return Run(full, model_dir, r.returncode, r.stdout, r.stderr, traceback="Traceback" in r.stderr)
        except subprocess.TimeoutExpired as err:
            return Run(full, model_dir, -1, str(err.stdout or ""), str(err.stderr or ""), timeout=True)


# --- data shared by the rows ---------------------------------------------------------------------


def _image_tree(root: Path, per_class: int, seed: int, corrupt: bool = False) -> Path:
    return cats_and_dogs(root, per_class, seed, bad={"cat/broken.png": b"not a png at all"} if corrupt else None)


def _tfrecords(
    path: Path, n: int, seed: int, image_key: str = "image", label_key: str = "label", extra: bool = False
) -> Path:
    rng = np.random.default_rng(seed)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for _ in range(n):
            label = int(rng.integers(0, 2))
            pixels = rng.integers(0, 60, (8, 8, 3), np.uint8) + np.uint8(150 * label)
            features = {
                image_key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[png(pixels)])),
                label_key: tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
            }
            if extra:
                features["new_column"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))
            writer.write(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())
    return path


@dataclasses.dataclass
class Data:
    tfds: str
    empty: Path
    images: Path
    images_val: Path
    images_test: Path
    images_corrupt: Path
    rec_train: Path
    rec_val: Path
    rec_test: Path
    rec_corrupt: Path
    rec_keys: Path
    rec_extra: Path
    csv: Path
    npz: Path
    hub: str
    series: Path  # two days of the embedded climate series (forecasting)
    series_iso: Path  # the same, its time column "when" in ISO 8601


@pytest.fixture(scope="module")
def data(tfds_data_dir, hub_module, tmp_path_factory) -> Data:
    root = tmp_path_factory.mktemp("flag_data")
    (root / "empty_tfds").mkdir()
    rec_train = _tfrecords(root / "train.tfrecord", 40, 0)
    corrupt = root / "corrupt.tfrecord"
    whole = rec_train.read_bytes()
    corrupt.write_bytes(whole + whole[: len(whole) // 3])  # a torn last record
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    quality = (x[:, 0] > 0).astype(int) + 5
    csv = root / "wine.csv"
    csv.write_text("a;b;c;quality\n" + "".join(f"{r[0]};{r[1]};{r[2]};{q}\n" for r, q in zip(x, quality, strict=True)))
    labels = rng.integers(0, 2, 60)
    arrays = (np.where(labels[:, None, None] == 1, 200, 30) + rng.integers(0, 20, (60, 8, 8))).astype(np.uint8)
    npz = root / "arrays.npz"
    np.savez(npz, x_train=arrays[:40], y_train=labels[:40], x_test=arrays[40:], y_test=labels[40:])
    series = climate_series.generate(days=2)
    series.to_csv(root / "series.csv", index=False)
    iso = series.rename(columns={"Date Time": "when"})
    iso["when"] = pd.to_datetime(iso["when"], format=climate_series.TIME_FORMAT).dt.strftime("%Y-%m-%dT%H:%M:%S")
    iso.to_csv(root / "series_iso.csv", index=False)
    return Data(
        tfds=tfds_data_dir,
        empty=root / "empty_tfds",
        images=_image_tree(root / "images", 12, 0),
        images_val=_image_tree(root / "images_val", 5, 1),
        images_test=_image_tree(root / "images_test", 3, 2),
        images_corrupt=_image_tree(root / "images_corrupt", 12, 3, corrupt=True),
        rec_train=rec_train,
        rec_val=_tfrecords(root / "val.tfrecord", 12, 1),
        rec_test=_tfrecords(root / "test.tfrecord", 10, 2),
        rec_corrupt=corrupt,
        rec_keys=_tfrecords(root / "keys.tfrecord", 30, 3, image_key="img", label_key="y"),
        rec_extra=_tfrecords(root / "extra.tfrecord", 40, 4, extra=True),
        csv=csv,
        npz=npz,
        hub=hub_module,
        series=root / "series.csv",
        series_iso=root / "series_iso.csv",
    )


@pytest.fixture(scope="module")
def harness():
    h = Harness()
    yield h
    h.close()


@pytest.fixture(scope="module")
def run(harness, data, tmp_path_factory) -> Runner:
    base = [
        f"--data_dir={data.tfds}",
        "--train_steps=2",
        "--eval_throttle_secs=0",
        "--progress_every_steps=1000",
        "--novalidate_data",
        "--noreport",
        "--test_split=test[:32]",
        "--validation_split=train[:32]",
    ]
    return Runner(harness, base, tmp_path_factory.mktemp("flag_runs"))


# --- the sources' argument sets -------------------------------------------------------------------


def folder(d: Data, *more: str) -> tuple[str, ...]:
    return ("--source=image_folder", f"--image_dir={d.images}", "--image_size=8", *more)


def records(d: Data, *more: str) -> tuple[str, ...]:
    return (
        "--source=tfrecord",
        f"--train_files={d.rec_train}",
        f"--validation_files={d.rec_val}",
        "--image_size=8",
        *more,
    )


TRANSFER = ("--model=mobilenet_v2", "--weights=none", "--image_size=32")
HUB = ("--model=hub", "--image_size=32")
TPU = ("--strategy=tpu", "--engine=tpu_estimator")


def baseline(r: Runner) -> Run:
    return r().ok()


def _differs(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape != b.shape or not np.array_equal(a, b)


def weights_differ(r: Runner, *args: str, vs: tuple[str, ...] = (), var: str = "dense/kernel") -> None:
    this, that = r(*args).ok(), r(*vs).ok()
    assert _differs(this.value(var), that.value(var)), f"{args}: {var} the same as with {vs}"


def gains_op(r: Runner, op: str, *args: str, vs: tuple[str, ...] = ()) -> None:
    assert r(*vs).ok().ops()[op] == 0, f"{op} already in the graph without {args}"
    assert r(*args).ok().ops()[op] > 0, f"{args}: no {op} in graph.pbtxt"


def in_order(*names: str) -> list[str]:
    return list(names)


# --- the checks, one function per row --------------------------------------------------------------

Check = Callable[[Runner, Data], None]


def c_source(r, d):
    out = r("--source=arrays", f"--array_file={d.npz}").ok()
    assert f"(on {d.npz} x_test)" in out.stdout


def c_array_file(r, d):
    c_source(r, d)


def c_dataset(r, d):
    one_line_error(r("--dataset=mnist"), "dataset", "'mnist'", "not prepared")


def c_data_dir(r, d):
    # digits ships its builder: a --data_dir without it is where it gets prepared.
    fresh = d.empty.parent / "fresh_tfds"
    r(f"--data_dir={fresh}").ok()
    assert list(fresh.glob("digits/*/digits-train.tfrecord-*"))


def c_download(r, d):
    # Not prepared, --download, no network: must end in one line quickly, not retry for minutes.
    out = r.subprocess(f"--data_dir={d.empty}", "--dataset=mnist", "--download", timeout=30)
    assert not out.timeout, "--download without network still running after 30 s"
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert out.exit_code == 2 and len(lines) == 1 and not out.traceback, out.stderr[-2000:]
    assert "'mnist'" in lines[0] and "cannot reach" in lines[0] and "--data_dir" in lines[0]


def c_train_split(r, d):
    one_line_error(r("--train_split=nosuchsplit"), "train_split", "nosuchsplit")


def c_validation_split(r, d):
    assert "(on train[:32]; chose the model)" in baseline(r).stdout
    assert "(on train[:16]; chose the model)" in r("--validation_split=train[:16]").ok().stdout


def c_test_split(r, d):
    assert "(on test[:32])" in baseline(r).figure("test accuracy")
    out = r("--test_split=").ok()
    assert "no test data, so this is the split that chose the model" in out.figure("validation accuracy")
    assert "test accuracy" not in out.stdout


def c_image_size(r, d):
    assert baseline(r).variables()["conv1/kernel"] == r("--image_size=12").ok().variables()["conv1/kernel"]
    assert baseline(r).variables()["dense/kernel"] != r("--image_size=12").variables()["dense/kernel"]
    assert "size: 12" in r("--image_size=12").graph()


def c_shuffle_buffer(r, d):
    weights_differ(r, "--shuffle_buffer=3")


def c_image_dir(r, d):
    out = r(*folder(d)).ok()
    assert "(on the last 20% of the training data)" in out.figure("validation accuracy")
    assert (out.model_dir / "labels.txt").read_text().split() == ["cat", "dog"]


def c_val_dir(r, d):
    out = r(*folder(d, f"--val_dir={d.images_val}")).ok()
    assert str(d.images_val) in out.figure("validation accuracy"), out.stdout


def c_test_dir(r, d):
    out = r(*folder(d, f"--test_dir={d.images_test}")).ok()
    assert str(d.images_test) in out.figure("test accuracy"), out.stdout


def c_val_fraction(r, d):
    a, b = r(*folder(d)).ok(), r(*folder(d, "--val_fraction=0.5")).ok()
    assert a.figure("validation accuracy").split("(on")[1] != b.figure("validation accuracy").split("(on")[1], (
        a.stdout,
        b.stdout,
    )


def c_check_images(r, d):
    checked = r("--source=image_folder", f"--image_dir={d.images_corrupt}", "--image_size=8").ok()
    assert "broken.png" in checked.stderr  # skipped and counted
    unchecked = r("--source=image_folder", f"--image_dir={d.images_corrupt}", "--image_size=8", "--nocheck_images")
    assert unchecked.exit_code != 0 or "broken.png" not in unchecked.stderr, unchecked.stderr[-2000:]


def c_train_files(r, d):
    out = r(*records(d)).ok()
    assert str(d.rec_val) in out.figure("validation accuracy")


def c_validation_files(r, d):
    one_line_error(r("--source=tfrecord", f"--train_files={d.rec_train}"), "validation_files")
    c_train_files(r, d)


def c_test_files(r, d):
    out = r(*records(d, f"--test_files={d.rec_test}")).ok()
    assert str(d.rec_test) in out.figure("test accuracy")


def _keyed(d: Data) -> tuple[str, ...]:
    return ("--source=tfrecord", f"--train_files={d.rec_keys}", f"--validation_files={d.rec_keys}", "--image_size=8")


def c_feature_spec(r, d):
    r(*_keyed(d), "--feature_spec=img:bytes,y:int64", "--image_key=img", "--label_key=y").ok()
    one_line_error(r(*_keyed(d), "--image_key=img", "--label_key=y"), "label_key", "['image', 'label']")


def c_image_key(r, d):
    r(*_keyed(d), "--feature_spec=img:bytes,y:int64", "--image_key=img", "--label_key=y").ok()
    # Without it the default 'image' is not in the spec, which then reads as tabular features.
    without = r(*_keyed(d), "--feature_spec=img:bytes,y:int64", "--label_key=y")
    one_line_error(without, "model", "holds named features")


def c_label_key(r, d):
    out = r(*CSV, f"--train_files={d.csv}", "--model=dnn").ok()
    assert (out.model_dir / "labels.txt").read_text().split() == ["5", "6"]


def c_text_key(r, d):
    texts = d.csv.parent / "texts.csv"
    rows = [f"the plot was {'superb' if i % 2 else 'dull'} {i},{'pos' if i % 2 else 'neg'}\n" for i in range(40)]
    texts.write_text("review,sentiment\n" + "".join(rows))
    text = ("--task=text_classification", "--source=csv", f"--train_files={texts}", "--label_key=sentiment")
    out = r(*text, "--model=text_conv1d", "--text_key=review").ok()
    assert (out.model_dir / "labels.txt").read_text().split() == ["neg", "pos"]
    one_line_error(r(*text, "--model=text_conv1d", "--text_key=nope"), "text_key", "no column 'nope'")
    one_line_error(
        r(*CSV, f"--train_files={d.csv}", "--model=dnn", "--text_key=a"), "text_key", "--task=classification"
    )


def c_text_dir(r, d):
    root = d.csv.parent / "text_folders"
    for i in range(20):
        label = "pos" if i % 2 else "neg"
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{i}.txt").write_text(f"the plot was {'superb' if i % 2 else 'dull'} {i}\n")
    text = ("--task=text_classification", "--source=text_folder", "--model=text_conv1d")
    out = r(*text, f"--text_dir={root}").ok()
    assert (out.model_dir / "labels.txt").read_text().split() == ["neg", "pos"]
    one_line_error(r(*text, f"--text_dir={root / 'pos'}"), "text_dir", "has 0 class folder(s)")


def c_sequence_length(r, d):
    corpus = d.csv.parent / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 5)  # 225 characters: 45 for validation
    lm = ("--task=language_model", "--source=text_corpus", f"--train_files={corpus}", "--model=char_gru")
    r(*lm, "--sequence_length=8").ok()
    one_line_error(r(*lm, "--sequence_length=60"), "sequence_length", "holds 45 characters", "--sequence_length=60")


def c_task(r, d):
    out = r(*CSV, f"--train_files={d.csv}", "--model=dnn", "--task=regression", "--report").ok()
    report = json.loads((out.model_dir / "report" / "report.json").read_text())
    assert {"mae", "rmse", "baseline_mae"} <= set(report) and "accuracy" not in report
    assert "validation mae" in out.stdout
    one_line_error(r("--task=regression"), "task", "'small_cnn'", "dnn")


def c_mask_dir(r, d):
    seg = ("--source=image_folder", f"--image_dir={d.images / 'cat'}", "--task=segmentation", "--model=segmenter")
    one_line_error(r(*seg, f"--mask_dir={d.empty}"), "mask_dir", "has no mask", "empty_tfds")


def c_scale(r, d):
    sr = ("--task=super_resolution", "--model=edsr", "--test_split=test[:8]", "--validation_split=train[:8]")
    # x4 upsamples twice: a second sub-pixel stage.
    assert "upsample2_conv/kernel" in r(*sr, "--dataset=shapes", "--scale=4").ok().variables()
    assert "upsample2_conv/kernel" not in r(*sr, "--dataset=shapes", "--scale=2").ok().variables()
    one_line_error(r(*sr, "--scale=4"), "scale", "'digits' holds 8x8 images", "at least 32")


def c_noise_stddev(r, d):
    dae = ("--task=denoising", "--model=denoiser")
    weights_differ(r, *dae, "--noise_stddev=0", vs=dae, var="code/kernel")


def _series(d: Data, *args: str, path: Path | None = None) -> tuple[str, ...]:
    """A forecast on two days of the climate series, small windows: 6 samples every 2nd row, 6 rows ahead."""
    small = ("--window_steps=6", "--sampling_rate=2", "--horizon_steps=6", "--model=dense")
    return ("--task=forecasting", "--source=timeseries", f"--train_files={path or d.series}", *small, *args)


def _series_json(run: Run) -> dict:
    return json.loads((run.model_dir / "series.json").read_text())


def c_time_key(r, d):
    assert _series_json(r(*_series(d, "--time_key=when", path=d.series_iso)).ok())["time_key"] == "when"
    one_line_error(r(*_series(d, path=d.series_iso)), "time_key", "no column 'Date Time'")


def c_target_key(r, d):
    assert _series_json(r(*_series(d, "--target_key=p (mbar)")).ok())["target"] == "p (mbar)"
    one_line_error(r(*_series(d, "--target_key=nope")), "target_key", "no column 'nope'")


def c_window_steps(r, d):
    assert _series_json(r(*_series(d)).ok())["window_steps"] == 6
    one_line_error(r(*_series(d, "--window_steps=40")), "window_steps", "spans 79 rows", "has 72 rows")


def c_sampling_rate(r, d):
    assert _series_json(r(*_series(d, "--sampling_rate=3")).ok())["sampling_rate"] == 3
    one_line_error(r(*_series(d, "--sampling_rate=20")), "window_steps", "every 20 rows spans 101 rows")


def c_horizon_steps(r, d):
    assert _series_json(r(*_series(d, "--horizon_steps=9")).ok())["horizon_steps"] == 9
    one_line_error(r(*_series(d, "--horizon_steps=70")), "window_steps", "--horizon_steps=70 more make 81")


def c_series_split(r, d):
    out = r(*_series(d, "--series_split=0.6,0.2,0.2")).ok()
    assert "lines 175-231 of" in out.figure("validation mae"), out.stdout[-2000:]
    one_line_error(r(*_series(d, "--series_split=0.5,0.5,0.5")), "series_split", "sum 1")


def c_recurrent_dropout(r, d):
    lstm = ("--model=lstm",)
    weights_differ(r, *_series(d, *lstm, "--recurrent_dropout=0.5"), vs=_series(d, *lstm), var="lstm/lstm_cell/kernel")


def c_csv_separator(r, d):
    c_label_key(r, d)
    out = r("--source=csv", f"--train_files={d.csv}", "--label_key=quality", "--model=dnn")
    assert out.exit_code == 2 and "quality" in out.stderr, out.stderr[-2000:]


def c_class_names(r, d):
    out = r("--source=arrays", f"--array_file={d.npz}", "--class_names=dark,light").ok()
    assert (out.model_dir / "labels.txt").read_text().split() == ["dark", "light"]


def c_class_names_tfds(r, d):
    # A TFDS dataset names its classes in its DatasetInfo: renaming them is refused, not ignored.
    names = ",".join(f"n{i}" for i in range(10))
    one_line_error(r(f"--class_names={names}"), "class_names", "DatasetInfo")


def c_class_names_image_folder(r, d):
    one_line_error(r(*folder(d, "--class_names=kitten,puppy")), "class_names", "class folders")


def c_on_corrupt_record(r, d):
    args = ("--source=tfrecord", f"--train_files={d.rec_corrupt}", f"--validation_files={d.rec_val}", "--image_size=8")
    failed = r(*args)
    assert failed.exit_code == 2 and "corrupt.tfrecord" in failed.stderr, failed.stderr[-2000:]
    r(*args, "--on_corrupt_record=skip").ok()


def c_cache(r, d):
    gains_op(r, "CacheDataset", "--cache=memory")


def c_deterministic(r, d):
    assert 'deterministic: "false"' not in baseline(r).graph()
    assert re.search(r'deterministic"\s*value \{\s*s: "false"', r("--nodeterministic").ok().graph())


def c_drop_remainder(r, d):
    # 32 validation examples in batches of 20: 20 of them with drop_remainder, all 32 without.
    args = ("--batch_size=20", "--report")
    assert "accuracy" in r(*args).ok().stdout
    assert re.search(r"over 32 examples", r(*args).stdout)
    assert re.search(r"over 20 examples", r(*args, "--drop_remainder").ok().stdout)


def c_synthetic_data(r, d):
    assert "TFRecordDataset" in baseline(r).graph()
    assert "TFRecordDataset" not in r("--synthetic_data").ok().graph()


def c_augment_hflip(r, d):
    gains_op(r, "ReverseV2", "--augment_hflip")


def c_augment_vflip(r, d):
    gains_op(r, "ReverseV2", "--augment_vflip")


def c_augment_rot90(r, d):
    gains_op(r, "Transpose", "--augment_rot90")


def c_augment_rotation(r, d):
    gains_op(r, "ImageProjectiveTransformV3", "--augment_rotation=30")


def c_augment_zoom(r, d):
    gains_op(r, "Slice", "--augment_zoom=0.5")


def c_augment_hue(r, d):
    gains_op(r, "AdjustHue", *folder(d, "--augment_hue=0.1"), vs=folder(d))


def c_augment_hue_grayscale(r, d):
    # Digits are grayscale: a colour augmentation there is refused, not ignored.
    one_line_error(r("--augment_hue=0.1"), "augment_hue", "grayscale")


def c_augment_saturation(r, d):
    gains_op(r, "AdjustSaturation", *folder(d, "--augment_saturation=0.5"), vs=folder(d))


def c_augment_brightness(r, d):
    assert r("--augment_brightness=0.2").ok().ops() != baseline(r).ops()


def c_augment_contrast(r, d):
    assert r("--augment_contrast=0.2").ok().ops()["Mean"] > baseline(r).ops()["Mean"]


# model


CSV = ("--source=csv", "--csv_separator=;", "--label_key=quality")


def c_model(r, d):
    assert "conv1/kernel" in baseline(r).variables()
    assert "conv1/kernel" not in r(*CSV, f"--train_files={d.csv}", "--model=dnn").ok().variables()


def c_hidden_units(r, d):
    shapes = r(*CSV, f"--train_files={d.csv}", "--model=dnn", "--hidden_units=7,5").ok().variables().values()
    assert [5, 2] in shapes and [7, 5] in shapes


def c_cnn_augment(r, d):
    assert r("--model=basic_cnn", "--cnn_augment=flip_shift").ok().ops() != r("--model=basic_cnn").ok().ops()


def c_learning_rate(r, d):
    assert r("--learning_rate=0.0123").ok().value("training/Adam/learning_rate") == pytest.approx(0.0123)


def c_dropout(r, d):
    weights_differ(r, "--dropout=0.6")


def c_label_smoothing(r, d):
    gains_op(r, "OneHot", "--label_smoothing=0.1")


def c_l2(r, d):
    assert r(*HUB, f"--hub_handle={d.hub}", "--l2=0").ok().ops() != r(*HUB, f"--hub_handle={d.hub}").ok().ops()


def c_weights(r, d):
    one_line_error(r(*TRANSFER, f"--weights={d.empty}/none.h5"), "weights", "none.h5")


def c_hub_handle(r, d):
    shapes = r(*HUB, f"--hub_handle={d.hub}").ok().variables().values()
    assert [3, 3, 3, 8] in shapes  # the stub module's conv kernel


def c_trainable_base(r, d):
    frozen = r(*HUB, f"--hub_handle={d.hub}").ok().variables()
    trained = r(*HUB, f"--hub_handle={d.hub}", "--trainable_base").ok().variables()
    slots = lambda v: sorted(n for n in v if n.startswith("training/") and v[n] == [3, 3, 3, 8])  # noqa: E731
    assert not slots(frozen) and slots(trained)


FINE = (*HUB, "--fine_tune_steps=2")  # the stub's base is one layer: fraction 1.0 unfreezes it, 0.1 none
STAGE2 = "fine_tune"  # stage 2's model_dir


def _base_slots(run: Run) -> list[str]:
    return sorted(n for n in run.variables(STAGE2) if n.startswith("training/") and "stub_conv" in n)


def c_fine_tune_steps(r, d):
    assert "stage 2" not in r(*HUB, f"--hub_handle={d.hub}").ok().stdout
    out = r(*FINE, f"--hub_handle={d.hub}", "--fine_tune_fraction=1.0", "--report", "--save_summary_steps=1").ok()
    assert "stage 2: fine-tuning for 2 steps" in out.stdout and "(2 stages)" in out.stdout
    assert out.variables(STAGE2)
    # The report's learning curves run on through stage 2 (its steps restart; they are shifted past stage 1's).
    curves = json.loads((out.model_dir / "report" / "curves.json").read_text())
    assert curves["stage_starts"] == [0, 2]
    assert [step for step, _ in curves["series"]["validation"]["loss"]] == [2, 4]
    assert [step for step, _ in curves["series"]["train"]["loss"]] == [1, 2, 3, 4]


def c_fine_tune_fraction(r, d):
    assert _base_slots(r(*FINE, f"--hub_handle={d.hub}", "--fine_tune_fraction=1.0").ok())
    assert not _base_slots(r(*FINE, f"--hub_handle={d.hub}", "--fine_tune_fraction=0.1").ok())


def c_fine_tune_from(r, d):
    one_line_error(r(*FINE, f"--hub_handle={d.hub}", "--fine_tune_from=nosuchlayer"), "fine_tune_from", "nosuchlayer")


def c_fine_tune_lr_factor(r, d):
    lr = "training/Adam/learning_rate"
    assert r(*FINE, f"--hub_handle={d.hub}", "--fine_tune_fraction=1.0").ok().value(lr, STAGE2) == pytest.approx(1e-4)
    factor = r(*FINE, f"--hub_handle={d.hub}", "--fine_tune_fraction=1.0", "--fine_tune_lr_factor=0.5").ok()
    assert factor.value(lr, STAGE2) == pytest.approx(5e-4)


# training


def c_engine(r, d):
    out = r("--engine=keras").ok()
    # Each engine's own checkpoints: Keras's CheckpointManager (ckpt-N), the Estimator's saver (model.ckpt-N).
    assert out.figure("engine") == "keras" and out.checkpoints() == [] and any(out.model_dir.glob("ckpt-*.index"))
    assert baseline(r).figure("engine") == "estimator"


def c_batch_size(r, d):
    assert r("--batch_size=4", "--report").ok().stdout != r("--report").ok().stdout
    # The TRAIN batch is static (remainders dropped): [4, 8, 8, 1] in graph.pbtxt
    graph = r("--batch_size=4").ok().graph()
    assert re.search(r"dim \{\s*size: 4\s*\}\s*dim \{\s*size: 8\s*\}", graph)
    assert not re.search(r"dim \{\s*size: 4\s*\}\s*dim \{\s*size: 8\s*\}", baseline(r).graph())


def c_train_steps(r, d):
    assert r("--train_steps=3").ok().figure("global step") == "3"
    assert baseline(r).figure("global step") == "2"


def c_eval_steps(r, d):
    # One evaluation batch of 8 (of 32 validation examples): the eval metric is over 8.
    out = r("--batch_size=8", "--eval_steps=1").ok()
    full = r("--batch_size=8").ok()
    assert out.scalars("accuracy", "eval") != full.scalars("accuracy", "eval") or out.figure(
        "validation accuracy"
    ) != full.figure("validation accuracy")


def c_eval_throttle_secs(r, d):
    # An evaluation after each checkpoint once the throttle has passed (the first always), and at the end.
    args = ("--train_steps=6", "--save_checkpoints_steps=2")
    assert sorted(r(*args).ok().scalars("accuracy", "eval")) == [2, 4, 6]
    assert sorted(r(*args, "--eval_throttle_secs=3600").ok().scalars("accuracy", "eval")) == [2, 6]


def c_seed(r, d):
    weights_differ(r, "--seed=7")


def c_progress_every_steps(r, d):
    out = r("--train_steps=3", "--progress_every_steps=1").ok()
    every = re.findall(r"^step \d+/3", out.stdout, re.M)
    assert len(every) >= 2 and len(every) > len(re.findall(r"^step \d+/3", r("--train_steps=3").ok().stdout, re.M))


def c_optimizer(r, d):
    assert any("Adam" in n for n in baseline(r).variables())
    sgd = r("--optimizer=sgd").ok().variables()
    assert not any("Adam" in n for n in sgd) and "training/SGD/momentum" in sgd


def c_momentum(r, d):
    assert r("--optimizer=sgd").ok().value("training/SGD/momentum") == pytest.approx(0.9)
    assert r("--optimizer=sgd", "--momentum=0.5").ok().value("training/SGD/momentum") == pytest.approx(0.5)


SUMMARY = ("--train_steps=3", "--save_summary_steps=1")


def _lr(run: Run) -> list[float]:
    values = run.scalars("learning_rate")
    assert values, "no learning_rate summary"
    return [round(values[s], 8) for s in sorted(values)]


def c_lr_schedule(r, d):
    assert len(set(_lr(r(*SUMMARY).ok()))) == 1
    assert len(set(_lr(r(*SUMMARY, "--lr_schedule=cosine").ok()))) > 1


def c_lr_decay_steps(r, d):
    assert _lr(r(*SUMMARY, "--lr_schedule=step", "--lr_decay_steps=1").ok()) != _lr(
        r(*SUMMARY, "--lr_schedule=step").ok()
    )


def c_lr_decay_rate(r, d):
    a = _lr(r(*SUMMARY, "--lr_schedule=step", "--lr_decay_steps=1").ok())
    b = _lr(r(*SUMMARY, "--lr_schedule=step", "--lr_decay_steps=1", "--lr_decay_rate=0.1").ok())
    assert a != b


def c_warmup_steps(r, d):
    assert _lr(r(*SUMMARY, "--lr_schedule=cosine", "--warmup_steps=2").ok()) != _lr(
        r(*SUMMARY, "--lr_schedule=cosine").ok()
    )


def c_mixed_precision(r, d):
    out = r("--mixed_precision").ok()
    assert out.policy == "mixed_bfloat16" and "DT_BFLOAT16" in out.graph()
    assert "DT_BFLOAT16" not in baseline(r).graph()


EARLY = ("--train_steps=16", "--save_checkpoints_steps=2")


def c_early_stopping_steps(r, d):
    out = r(*EARLY, "--early_stopping_steps=2").ok()
    assert int(out.figure("global step")) < 16


def c_early_stopping_metric(r, d):
    acc = r(*EARLY, "--early_stopping_steps=2")
    loss = r(*EARLY, "--early_stopping_steps=2", "--early_stopping_metric=loss").ok()
    assert acc.ok().figure("global step") != loss.figure("global step")


BOTTLENECK = (*HUB, "--bottleneck_cache")


def c_bottleneck_cache(r, d):
    out = r(*BOTTLENECK, f"--hub_handle={d.hub}").ok()
    assert any((out.model_dir / "bottleneck").iterdir())


def c_bottleneck_dir(r, d):
    cache = d.empty.parent / "features"
    r(*BOTTLENECK, f"--hub_handle={d.hub}", f"--bottleneck_dir={cache}").ok()
    assert any(cache.iterdir())


def c_report(r, d):
    assert not (baseline(r).model_dir / "report").exists()
    out = r("--report").ok()
    assert json.loads((out.model_dir / "report" / "report.json").read_text())
    assert out.figure("report") == str(out.model_dir / "report")


# distribution


def c_strategy(r, d):
    out = r("--strategy=one_device").ok()
    assert out.graph() != baseline(r).graph()


def c_num_gpus(r, d):
    one_line_error(r("--strategy=mirrored", "--num_gpus=1"), "num_gpus", "0 visible")


def c_num_gpus_one_device(r, d):
    one_line_error(r("--strategy=one_device", "--num_gpus=1"), "num_gpus")


def c_all_reduce_alg(r, d):
    one_line_error(r("--strategy=mirrored", "--all_reduce_alg=ring"), "all_reduce_alg", "'ring'")


MIRRORED = ("--strategy=mirrored", "--logical_cpu_devices=2", "--scale_learning_rate")


@pytest.fixture(scope="module")
def mirrored_run(run) -> Run:
    # Logical devices must be set before TensorFlow starts: a process of its own.
    return run.subprocess(*MIRRORED, "--batch_size=8", timeout=240)


def c_logical_cpu_devices(r, d, mirrored: Run):
    assert "replica_1" in mirrored.ok().graph()


def c_scale_learning_rate(r, d, mirrored: Run):
    assert mirrored.ok().value("training/Adam/learning_rate") == pytest.approx(2e-3)


def c_tpu(r, d):
    one_line_error(r(*TPU, "--tpu=nosuchtpu"), "tpu", "nosuchtpu")


def c_tpu_zone(r, d):
    one_line_error(r(*TPU, "--tpu=nosuchtpu", "--tpu_zone=zz-none1-a"), "tpu")


def c_gcp_project(r, d):
    one_line_error(r(*TPU, "--tpu=nosuchtpu", "--gcp_project=no-such-project"), "tpu")


def c_use_tpu(r, d):
    one_line_error(r(*TPU), "tpu")
    assert r(*TPU, "--nouse_tpu").ok().figure("engine") == "tpu_estimator"


def c_iterations_per_loop(r, d):
    assert r(*TPU, "--nouse_tpu", "--iterations_per_loop=1").ok().graph() != r(*TPU, "--nouse_tpu").ok().graph()


def c_num_shards(r, d):
    lr = "training/Adam/learning_rate"
    out = r(*TPU, "--nouse_tpu", "--num_shards=4", "--scale_learning_rate").ok()
    assert out.variables() != {} and any("Adam" in n for n in out.variables())
    assert out.graph() != r(*TPU, "--nouse_tpu", "--scale_learning_rate").ok().graph(), lr


def c_deterministic_ops(r, d):
    assert not baseline(r).op_determinism
    assert r("--deterministic_ops").ok().op_determinism


# output


def c_model_dir(r, d):
    out = baseline(r)
    assert (out.model_dir / "graph.pbtxt").exists() and out.figure("model_dir") == str(out.model_dir)


def _marker(model_dir: Path) -> None:
    # An earlier kestrel run: its marker says --overwrite_model_dir may replace it.
    model_dir.mkdir(parents=True)
    (model_dir / ".kestrel-model-dir").write_text("written by kestrel")
    (model_dir / "marker.txt").write_text("old run")


def c_overwrite_model_dir(r, d):
    kept = r("--train_steps=1", before=_marker).ok()
    assert (kept.model_dir / "marker.txt").exists()
    gone = r("--train_steps=1", "--overwrite_model_dir", before=_marker).ok()
    assert not (gone.model_dir / "marker.txt").exists()


def c_save_checkpoints_steps(r, d):
    assert len(r("--train_steps=3", "--save_checkpoints_steps=1").ok().checkpoints()) >= 3
    assert len(r("--train_steps=3").ok().checkpoints()) <= 2


def c_keep_checkpoint_max(r, d):
    assert len(r("--train_steps=3", "--save_checkpoints_steps=1", "--keep_checkpoint_max=1").ok().checkpoints()) == 1


def c_save_summary_steps(r, d):
    assert sorted(r(*SUMMARY).ok().scalars("loss")) == [1, 2, 3]
    assert len(r("--train_steps=3").ok().scalars("loss")) < 3


def c_tflite_output_file(r, d):
    path = r.root / "tflite" / "digits.tflite"
    out = r(f"--tflite_output_file={path}").ok()
    assert out.figure("tflite float32").startswith(f"{path}  (")
    assert (path.parent / "digits_dynamic_range.tflite").is_file()
    assert (path.parent / "labels.txt").read_text().split() == [str(i) for i in range(10)]
    assert "tflite" not in baseline(r).stdout
    one_line_error(r("--tflite_output_file=digits.lite"), "tflite_output_file", "ending in .tflite")


# gate


def c_validate_data(r, d):
    out = r("--validate_data").ok()
    assert "validation: " in out.stdout and (out.model_dir / "validation").is_dir()
    assert not (baseline(r).model_dir / "validation").exists()


def c_allow_anomalies(r, d):
    # Span 1 infers the schema in <model_dir>/validation; span 2 has a column the schema lacks.
    model_dir = r.root / "two_spans"
    r("--validate_data", *records(d), model_dir=model_dir).ok()
    new = ("--validate_data", "--source=tfrecord", f"--train_files={d.rec_extra}", f"--validation_files={d.rec_val}")
    new = (*new, "--image_size=8", "--train_steps=3")
    refused = r(*new, model_dir=model_dir)
    assert refused.exit_code == 3, refused.stderr[-2000:]
    allowed = r(*new, "--allow_anomalies", model_dir=model_dir).ok()
    assert "ALLOWED despite findings" in allowed.stdout and allowed.figure("global step") == "3"


def c_validate_data_torn_tfrecord(r, d):
    # The docs: data with unreadable records is refused, exit 3 (not a failed Beam job, exit 1).
    args = ("--source=tfrecord", f"--train_files={d.rec_corrupt}", f"--validation_files={d.rec_val}")
    refused = r("--validate_data", *args, "--image_size=8", "--on_corrupt_record=skip")
    assert refused.exit_code == 3, refused.stderr[-2000:]


def c_max_bad_record_fraction(r, d):
    # images_corrupt: 1 bad file of 25 (4%): skipped and named under the default 5%, refused (exit 3) under 1%.
    args = ("--source=image_folder", f"--image_dir={d.images_corrupt}", "--image_size=8")
    assert "1 skipped: 1 not an image (text) (cat/broken.png)" in r(*args).ok().stderr
    refused = r(*args, "--max_bad_record_fraction=0.01")
    assert refused.exit_code == 3 and "above --max_bad_record_fraction=0.01" in refused.stderr, refused.stderr[-2000:]


def c_gate_running_mode(r, d):
    fresh = ("--validate_data", "--gate_cache_dir=")  # validate, even if another case validated this data
    assert "computing statistics on DirectRunner (in_memory" in r(*fresh).ok().stdout + r(*fresh).stderr
    out = r(*fresh, "--gate_running_mode=multi_threading").ok()
    assert "computing statistics on DirectRunner (multi_threading" in out.stdout + out.stderr


def c_gate_cache_dir(r, d):
    # Remembered by data fingerprint: the second run on the same data recalls the verdict; off, it validates.
    cache = r.root / "gate_cache"
    first = r("--validate_data", f"--gate_cache_dir={cache}").ok()
    assert "TFDV not run" not in first.stdout and len([p for p in cache.iterdir() if p.is_dir()]) == 1
    again = r("--validate_data", f"--gate_cache_dir={cache}", "--train_steps=1").ok()
    assert "examples clean (unchanged since validated" in again.stdout and "TFDV not run" in again.stdout
    assert (again.model_dir / "validation" / "spans" / "span-0" / "report.html").is_file()
    off = r("--validate_data", "--gate_cache_dir=", "--train_steps=1").ok()
    assert "TFDV not run" not in off.stdout and "validation: " in off.stdout
    one_line_error(r(f"--gate_cache_dir={d.hub}/saved_model.pb"), "gate_cache_dir", "must be a directory")


def c_augment_saturation_grayscale(r, d):
    one_line_error(r("--augment_saturation=0.5"), "augment_saturation", "grayscale")


ROWS = [
    # data: where it comes from
    pytest.param("source", c_source, id="source"),
    pytest.param("array_file", c_array_file, id="array_file"),
    pytest.param("dataset", c_dataset, id="dataset"),
    pytest.param("data_dir", c_data_dir, id="data_dir"),
    pytest.param("download", c_download, id="download"),
    pytest.param("train_split", c_train_split, id="train_split"),
    pytest.param("validation_split", c_validation_split, id="validation_split"),
    pytest.param("test_split", c_test_split, id="test_split"),
    pytest.param("image_size", c_image_size, id="image_size"),
    pytest.param("image_dir", c_image_dir, id="image_dir"),
    pytest.param("val_dir", c_val_dir, id="val_dir"),
    pytest.param("test_dir", c_test_dir, id="test_dir"),
    pytest.param("val_fraction", c_val_fraction, id="val_fraction"),
    pytest.param("check_images", c_check_images, id="check_images"),
    pytest.param("max_bad_record_fraction", c_max_bad_record_fraction, id="max_bad_record_fraction"),
    pytest.param("train_files", c_train_files, id="train_files"),
    pytest.param("validation_files", c_validation_files, id="validation_files"),
    pytest.param("test_files", c_test_files, id="test_files"),
    pytest.param("feature_spec", c_feature_spec, id="feature_spec"),
    pytest.param("image_key", c_image_key, id="image_key"),
    pytest.param("label_key", c_label_key, id="label_key"),
    pytest.param("text_key", c_text_key, id="text_key"),
    pytest.param("text_dir", c_text_dir, id="text_dir"),
    pytest.param("sequence_length", c_sequence_length, id="sequence_length"),
    pytest.param("csv_separator", c_csv_separator, id="csv_separator"),
    pytest.param("time_key", c_time_key, id="time_key"),
    pytest.param("target_key", c_target_key, id="target_key"),
    pytest.param("window_steps", c_window_steps, id="window_steps"),
    pytest.param("sampling_rate", c_sampling_rate, id="sampling_rate"),
    pytest.param("horizon_steps", c_horizon_steps, id="horizon_steps"),
    pytest.param("series_split", c_series_split, id="series_split"),
    pytest.param("task", c_task, id="task"),
    pytest.param("mask_dir", c_mask_dir, id="mask_dir"),
    pytest.param("scale", c_scale, id="scale"),
    pytest.param("noise_stddev", c_noise_stddev, id="noise_stddev"),
    pytest.param("class_names", c_class_names, id="class_names"),
    pytest.param("on_corrupt_record", c_on_corrupt_record, id="on_corrupt_record"),
    # data: the tf.data pipeline and augmentation
    pytest.param("shuffle_buffer", c_shuffle_buffer, id="shuffle_buffer"),
    pytest.param("cache", c_cache, id="cache"),
    pytest.param("deterministic", c_deterministic, id="deterministic"),
    pytest.param("drop_remainder", c_drop_remainder, id="drop_remainder"),
    pytest.param("synthetic_data", c_synthetic_data, id="synthetic_data"),
    pytest.param("augment_hflip", c_augment_hflip, id="augment_hflip"),
    pytest.param("augment_vflip", c_augment_vflip, id="augment_vflip"),
    pytest.param("augment_rot90", c_augment_rot90, id="augment_rot90"),
    pytest.param("augment_rotation", c_augment_rotation, id="augment_rotation"),
    pytest.param("augment_zoom", c_augment_zoom, id="augment_zoom"),
    pytest.param("augment_hue", c_augment_hue, id="augment_hue"),
    pytest.param("augment_saturation", c_augment_saturation, id="augment_saturation"),
    pytest.param("augment_brightness", c_augment_brightness, id="augment_brightness"),
    pytest.param("augment_contrast", c_augment_contrast, id="augment_contrast"),
    # model
    pytest.param("model", c_model, id="model"),
    pytest.param("hidden_units", c_hidden_units, id="hidden_units"),
    pytest.param("cnn_augment", c_cnn_augment, id="cnn_augment"),
    pytest.param("learning_rate", c_learning_rate, id="learning_rate"),
    pytest.param("dropout", c_dropout, id="dropout"),
    pytest.param("recurrent_dropout", c_recurrent_dropout, id="recurrent_dropout"),
    pytest.param("l2", c_l2, id="l2"),
    pytest.param("weights", c_weights, id="weights"),
    pytest.param("hub_handle", c_hub_handle, id="hub_handle"),
    pytest.param("trainable_base", c_trainable_base, id="trainable_base"),
    pytest.param("fine_tune_steps", c_fine_tune_steps, id="fine_tune_steps"),
    pytest.param("fine_tune_from", c_fine_tune_from, id="fine_tune_from"),
    pytest.param("fine_tune_fraction", c_fine_tune_fraction, id="fine_tune_fraction"),
    pytest.param("fine_tune_lr_factor", c_fine_tune_lr_factor, id="fine_tune_lr_factor"),
    # training
    pytest.param("engine", c_engine, id="engine"),
    pytest.param("batch_size", c_batch_size, id="batch_size"),
    pytest.param("train_steps", c_train_steps, id="train_steps"),
    pytest.param("eval_steps", c_eval_steps, id="eval_steps"),
    pytest.param("eval_throttle_secs", c_eval_throttle_secs, id="eval_throttle_secs"),
    pytest.param("seed", c_seed, id="seed"),
    pytest.param("progress_every_steps", c_progress_every_steps, id="progress_every_steps"),
    pytest.param("optimizer", c_optimizer, id="optimizer"),
    pytest.param("momentum", c_momentum, id="momentum"),
    pytest.param("lr_schedule", c_lr_schedule, id="lr_schedule"),
    pytest.param("lr_decay_steps", c_lr_decay_steps, id="lr_decay_steps"),
    pytest.param("lr_decay_rate", c_lr_decay_rate, id="lr_decay_rate"),
    pytest.param("warmup_steps", c_warmup_steps, id="warmup_steps"),
    pytest.param("label_smoothing", c_label_smoothing, id="label_smoothing"),
    pytest.param("mixed_precision", c_mixed_precision, id="mixed_precision"),
    pytest.param("early_stopping_steps", c_early_stopping_steps, id="early_stopping_steps"),
    pytest.param("early_stopping_metric", c_early_stopping_metric, id="early_stopping_metric"),
    pytest.param("bottleneck_cache", c_bottleneck_cache, id="bottleneck_cache"),
    pytest.param("bottleneck_dir", c_bottleneck_dir, id="bottleneck_dir"),
    pytest.param("report", c_report, id="report"),
    # distribution
    pytest.param("strategy", c_strategy, id="strategy"),
    pytest.param("num_gpus", c_num_gpus, id="num_gpus"),
    pytest.param("all_reduce_alg", c_all_reduce_alg, id="all_reduce_alg"),
    pytest.param("logical_cpu_devices", c_logical_cpu_devices, id="logical_cpu_devices"),
    pytest.param("scale_learning_rate", c_scale_learning_rate, id="scale_learning_rate"),
    pytest.param("tpu", c_tpu, id="tpu"),
    pytest.param("tpu_zone", c_tpu_zone, id="tpu_zone"),
    pytest.param("gcp_project", c_gcp_project, id="gcp_project"),
    pytest.param("use_tpu", c_use_tpu, id="use_tpu"),
    pytest.param("iterations_per_loop", c_iterations_per_loop, id="iterations_per_loop"),
    pytest.param("num_shards", c_num_shards, id="num_shards"),
    pytest.param("deterministic_ops", c_deterministic_ops, id="deterministic_ops"),
    # output
    pytest.param("model_dir", c_model_dir, id="model_dir"),
    pytest.param("overwrite_model_dir", c_overwrite_model_dir, id="overwrite_model_dir"),
    pytest.param("save_checkpoints_steps", c_save_checkpoints_steps, id="save_checkpoints_steps"),
    pytest.param("keep_checkpoint_max", c_keep_checkpoint_max, id="keep_checkpoint_max"),
    pytest.param("save_summary_steps", c_save_summary_steps, id="save_summary_steps"),
    pytest.param("tflite_output_file", c_tflite_output_file, id="tflite_output_file"),
    # gate
    pytest.param("validate_data", c_validate_data, id="validate_data"),
    pytest.param("allow_anomalies", c_allow_anomalies, id="allow_anomalies"),
    pytest.param("gate_running_mode", c_gate_running_mode, id="gate_running_mode"),
    pytest.param("gate_cache_dir", c_gate_cache_dir, id="gate_cache_dir"),
    # the same flags where they cannot apply: refused, never ignored
    pytest.param("augment_hue", c_augment_hue_grayscale, id="augment_hue-grayscale"),
    pytest.param("augment_saturation", c_augment_saturation_grayscale, id="augment_saturation-grayscale"),
    pytest.param("num_gpus", c_num_gpus_one_device, id="num_gpus-one_device"),
    pytest.param("class_names", c_class_names_tfds, id="class_names-tfds"),
    pytest.param("class_names", c_class_names_image_folder, id="class_names-image_folder"),
    pytest.param("validate_data", c_validate_data_torn_tfrecord, id="validate_data-torn_tfrecord"),
]


def test_the_table_names_every_flag_of_scripts_train(harness):
    defined = {name for names in harness.script_flags().values() for name in names}
    assert set(harness.script_flags()) >= {"scripts.flags._data", "scripts.flags._gate"}
    tabled = {p.values[0] for p in ROWS}
    assert tabled == defined, f"without a row: {sorted(defined - tabled)}; not a flag: {sorted(tabled - defined)}"


@pytest.mark.parametrize("flag, check", ROWS)
def test_flag_has_an_observable_effect(flag, check, run, data, request):
    start = time.monotonic()
    try:
        if "mirrored" in check.__code__.co_varnames[: check.__code__.co_argcount]:
            check(run, data, request.getfixturevalue("mirrored_run"))
        else:
            check(run, data)
    finally:
        TIMES[request.node.callspec.id] = time.monotonic() - start


def test_print_times():
    """Not a check: the seconds each row took (runs shared between rows count for the first)."""
    out = io.StringIO()
    for row, seconds in sorted(TIMES.items(), key=lambda kv: -kv[1]):
        print(f"{seconds:7.1f}s  {row}", file=out)
    print(out.getvalue())
