"""Training examples/sec of one model, data and strategy under three loops, side by side.

- ``estimator``: kestrel's Estimator engine (model_to_estimator, train_and_evaluate), unchanged.
- ``keras``: kestrel's Keras engine (Model.fit), unchanged.
- ``tf_function``: a plain ``tf.function`` step (GradientTape, apply_gradients) over the
  same model, optimizer and input_fn: the floor of framework overhead. It also times
  ``next(iterator)`` apart from the step, so the time a step waits for input is known.

Every run is one child process (``python -m benchmarks.training_throughput <json>``):
logical CPU devices must be set before TensorFlow starts, and the suite reads each
run's peak memory apart. The engines run with progress every step into a stream
that timestamps each ``step N/M`` line; steady state is the steps after ``warmup``
(graph building, tracing, the cache fill and the first batches do not count).
Checkpoints (and so evaluations) are pushed past the last step: only training is timed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence

from benchmarks import reporting
from common.progress import run_counter

ENGINES = ("estimator", "keras", "tf_function")
MODELS = ("small_cnn", "mobilenet_v2")
STRATEGIES = ("default", "mirrored")
RESULT_PREFIX = "BENCHMARK_RESULT "
_STEP_LINE = re.compile(r"^step (\d+)/\d+")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """One measurement: an engine training a model on digits under a strategy."""

    engine: str
    model: str
    strategy: str
    batch_size: int
    warmup_steps: int
    steps: int
    data_dir: str | None
    image_size: int | None = None  # None: the dataset's own (8x8 digits)
    logical_cpus: int = 2
    seed: int = 1
    # Transfer models: train the whole backbone too (benchmarks/compute.py's full VGG16 step), not the head alone.
    trainable_base: bool = False


@dataclasses.dataclass(frozen=True)
class RunResult:
    engine: str
    model: str
    strategy: str
    batch_size: int
    steps: int  # timed steps
    examples_per_sec: float
    median_step_ms: float
    # tf_function only: share of the step time spent in next(iterator).
    input_wait_fraction: float | None = None
    median_input_wait_ms: float | None = None
    peak_rss_mb: float = 0.0
    process_seconds: float = 0.0


# --- in the child process ------------------------------------------------------------------------


class TimedStream:
    """A text stream that keeps (perf_counter, line) for each line written to it."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        while "\n" in self._partial:
            line, self._partial = self._partial.split("\n", 1)
            self.lines.append((time.perf_counter(), line))
        return len(text)

    def flush(self) -> None:
        pass

    def step_times(self) -> dict[int, float]:
        times = {}
        for stamp, line in self.lines:
            match = _STEP_LINE.match(line)
            if match:
                times[int(match.group(1))] = stamp
        return times


def steady_state(step_times: dict[int, float], warmup: int, batch_size: int) -> tuple[int, float, float]:
    """(timed steps, examples/sec, median step ms) over the steps after ``warmup``."""
    steps = sorted(s for s in step_times if s >= warmup)
    if len(steps) < 2:
        raise RuntimeError(f"too few progress lines after step {warmup}: {sorted(step_times)[-5:]}")
    first, last = steps[0], steps[-1]
    seconds = step_times[last] - step_times[first]
    durations = [(step_times[b] - step_times[a]) / (b - a) for a, b in zip(steps, steps[1:], strict=False) if b > a]
    return last - first, (last - first) * batch_size / seconds, 1e3 * statistics.median(durations)


def _image_spec(model: str, image_size: int | None):
    from estimators.models import registry
    from input_fns.preprocessing import ImageSpec

    size = image_size or 8
    entry = registry.get(model)
    return ImageSpec(size, size, 3 if entry.rgb else 1, entry.preprocessing)


def _engine_strategy(cfg: RunConfig):
    from estimators.distribute import strategy as distribution

    if cfg.strategy == "default":
        return None
    if cfg.engine == "estimator":
        return distribution.make_strategy(cfg.strategy)
    return distribution.make_keras_strategy(distribution.Options(strategy=cfg.strategy))


def measure(cfg: RunConfig) -> RunResult:
    """Runs in a fresh process whose TensorFlow has not started yet."""
    from estimators.distribute import devices

    devices.configure_logical_cpus(cfg.logical_cpus if cfg.strategy == "mirrored" else 1)
    import tensorflow as tf

    from common.params import TRAIN, VALIDATION
    from estimators.engines import Inputs
    from estimators.models.spec import ModelSpec
    from input_fns import pipeline_ops, tfds_source

    builder = tfds_source.load_builder("digits", cfg.data_dir)
    meta = tfds_source.dataset_meta(builder)
    image = _image_spec(cfg.model, cfg.image_size)
    spec = ModelSpec(image=image, num_classes=meta.num_classes, trainable_base=cfg.trainable_base)
    tf.keras.utils.set_random_seed(cfg.seed)

    # Train on digits' train split; the test split is the validation role (and, with no test role, the report's).
    splits = {TRAIN: "train", VALIDATION: "test"}

    def make(role: str, mode: str, batch_size: int):
        return tfds_source.input_fn(
            builder, splits[role], pipeline_ops.InputRequest(mode, batch_size, spec.input_name, image), seed=cfg.seed
        )

    if cfg.engine == "tf_function":
        return _measure_plain_loop(cfg, spec, make(TRAIN, pipeline_ops.FIT, cfg.batch_size))
    sizes = {role: builder.info.splits[split].num_examples for role, split in splits.items()}
    return _measure_engine(cfg, spec, Inputs(make, sizes, report_role=VALIDATION))


def _measure_engine(cfg: RunConfig, spec, inputs) -> RunResult:
    from common.params import CheckpointPolicy
    from estimators.engines import Job, get_engine
    from estimators.models import build_model

    total = cfg.warmup_steps + cfg.steps
    stream = TimedStream()
    with tempfile.TemporaryDirectory() as model_dir:
        job = Job(
            model_name=cfg.model,
            spec=spec,
            build=lambda: build_model(cfg.model, spec),
            inputs=inputs,
            model_dir=model_dir,
            max_steps=total,
            batch_size=cfg.batch_size,
            # No checkpoint (and so no evaluation) inside the timed steps; summaries as by default.
            checkpoints=CheckpointPolicy(save_checkpoints_steps=total + 1),
            strategy=_engine_strategy(cfg),
            eval_steps=1,
            progress_every_steps=1,
            seed=cfg.seed,
            serving=None,
            stream=stream,
        )
        get_engine(cfg.engine).run(job)
    steps, rate, median_ms = steady_state(stream.step_times(), cfg.warmup_steps, cfg.batch_size)
    return RunResult(cfg.engine, cfg.model, cfg.strategy, cfg.batch_size, steps, rate, median_ms)


def _measure_plain_loop(cfg: RunConfig, spec, train_fn) -> RunResult:
    import contextlib

    import tensorflow as tf

    from estimators.models import build_model

    strategy = _engine_strategy(cfg)
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = build_model(cfg.model, spec)
        optimizer = model.optimizer  # the same legacy optimizer both engines train with
        loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(reduction=tf.keras.losses.Reduction.NONE)
    dataset = strategy.distribute_datasets_from_function(train_fn) if strategy else train_fn()

    def replica_step(features, labels):
        with tf.GradientTape() as tape:
            probabilities = model(features, training=True)
            loss = tf.nn.compute_average_loss(loss_fn(labels, probabilities), global_batch_size=cfg.batch_size)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    @tf.function
    def train_step(features, labels):
        if strategy is None:
            return replica_step(features, labels)
        losses = strategy.run(replica_step, args=(features, labels))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    iterator = iter(dataset)
    waits, totals = [], []
    started = None
    for step in range(cfg.warmup_steps + cfg.steps):
        if step == cfg.warmup_steps:
            started = time.perf_counter()
        t0 = time.perf_counter()
        features, labels = next(iterator)
        t1 = time.perf_counter()
        train_step(features, labels).numpy()  # the step is done when its loss is
        t2 = time.perf_counter()
        if step >= cfg.warmup_steps:
            waits.append(t1 - t0)
            totals.append(t2 - t0)
    seconds = time.perf_counter() - started
    return RunResult(
        "tf_function",
        cfg.model,
        cfg.strategy,
        cfg.batch_size,
        cfg.steps,
        cfg.steps * cfg.batch_size / seconds,
        1e3 * statistics.median(totals),
        input_wait_fraction=sum(waits) / sum(totals),
        median_input_wait_ms=1e3 * statistics.median(waits),
    )


def child_main(argv: Sequence[str]) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import warnings

    warnings.filterwarnings("ignore")
    from absl import logging

    logging.set_verbosity(logging.ERROR)
    cfg = RunConfig(**json.loads(argv[1]))
    result = measure(cfg)
    print(RESULT_PREFIX + json.dumps(dataclasses.asdict(result)), flush=True)


# --- in the suite's process ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the benchmark runs: models x strategies x engines, ``repeats`` rounds."""

    data_dir: str | None
    models: tuple[str, ...] = MODELS
    strategies: tuple[str, ...] = STRATEGIES
    engines: tuple[str, ...] = ENGINES
    repeats: int = 1
    # model -> (batch, warmup steps, timed steps, image size)
    sizes: dict = dataclasses.field(
        default_factory=lambda: {"small_cnn": (64, 100, 1000, None), "mobilenet_v2": (32, 5, 30, 96)}
    )
    logical_cpus: int = 2
    timeout: float = 1800
    trainable_base: bool = False


def run_configs(plan: Plan) -> list[RunConfig]:
    configs = []
    for model in plan.models:
        batch, warmup, steps, size = plan.sizes[model]
        for strategy in plan.strategies:
            for engine in plan.engines:
                configs.append(
                    RunConfig(
                        engine,
                        model,
                        strategy,
                        batch,
                        warmup,
                        steps,
                        plan.data_dir,
                        size,
                        plan.logical_cpus,
                        trainable_base=plan.trainable_base,
                    )
                )
    return configs


def run(plan: Plan, progress: Callable[[str], None] = print) -> list[RunResult]:
    """Each configuration ``repeats`` times, round-robin over engines (load hits them alike); best run counts."""
    from common import processes as memory

    runs: dict[tuple[str, str, str], list[RunResult]] = {}
    counter = run_counter(plan.repeats * len(run_configs(plan)), progress)
    for repeat in range(plan.repeats):
        for cfg in run_configs(plan):
            argv = memory.python_module("benchmarks.training_throughput", json.dumps(dataclasses.asdict(cfg)))
            measured = memory.run_measured(argv, timeout=plan.timeout).check()
            found = measured.first_line(lambda line: line.startswith(RESULT_PREFIX))
            if found is None:
                raise RuntimeError(f"no result from {cfg}:\n{measured.output()[-2000:]}")
            result = dataclasses.replace(
                RunResult(**json.loads(found[1][len(RESULT_PREFIX) :])),
                peak_rss_mb=measured.peak_rss_mb,
                process_seconds=measured.seconds,
            )
            runs.setdefault((cfg.model, cfg.strategy, cfg.engine), []).append(result)
            note = (
                f"repeat {repeat + 1}/{plan.repeats} {cfg.model:<13} {cfg.strategy:<9} {cfg.engine:<12} "
                f"{result.examples_per_sec:10,.0f} examples/sec  {result.median_step_ms:8.2f} ms/step  "
                f"peak {result.peak_rss_mb:,.0f} MB"
            )
            counter.update(sum(map(len, runs.values())), note)
    return [max(results, key=lambda r: r.examples_per_sec) for results in runs.values()]


def targets(results: Sequence[RunResult], input_wait_model: str = "mobilenet_v2") -> list[dict]:
    """Per model and strategy: estimator/keras (>= 0.95), each engine vs the plain loop (within 1.2x), input wait."""
    by = {(r.model, r.strategy, r.engine): r for r in results}
    rows = []
    for model, strategy in dict.fromkeys((r.model, r.strategy) for r in results):
        est, keras, plain = (by.get((model, strategy, e)) for e in ENGINES)
        row: dict = {"model": model, "strategy": strategy}
        if est and keras:
            row["estimator_vs_keras"] = est.examples_per_sec / keras.examples_per_sec
            row["estimator_vs_keras_met"] = row["estimator_vs_keras"] >= 0.95
        if plain:
            for engine in (est, keras):
                if engine:
                    # "within 1.2x": the plain loop is at most 1.2 times faster.
                    ratio = plain.examples_per_sec / engine.examples_per_sec
                    row[f"tf_function_over_{engine.engine}"] = ratio
                    row[f"{engine.engine}_within_1_2x_met"] = ratio <= 1.2
            if model == input_wait_model:
                row["input_wait_fraction"] = plain.input_wait_fraction
                row["input_wait_met"] = plain.input_wait_fraction < 0.05
        rows.append(row)
    return rows


# Each column's title, its values' format spec (alignment and width first) and a run's value in it.
_COLUMNS = (
    ("model", "<13", lambda r: r.model),
    ("strategy", "<9", lambda r: r.strategy),
    ("engine", "<12", lambda r: r.engine),
    ("batch", ">5", lambda r: r.batch_size),
    ("steps", ">6", lambda r: r.steps),
    ("ex/sec", ">10,.1f", lambda r: r.examples_per_sec),
    ("ms/step", ">8.2f", lambda r: r.median_step_ms),
    ("input wait", ">10", lambda r: "-" if r.input_wait_fraction is None else f"{r.input_wait_fraction:.1%}"),
    ("peak MB", ">8,.0f", lambda r: r.peak_rss_mb),
)


def format_table(results: Sequence[RunResult]) -> str:
    lines = reporting.table(_COLUMNS, results)
    for row in targets(results):
        parts = [f"{row['model']}/{row['strategy']}:"]
        if "estimator_vs_keras" in row:
            ok = "met" if row["estimator_vs_keras_met"] else "MISSED"
            parts.append(f"estimator = {row['estimator_vs_keras']:.2f}x keras (>= 0.95: {ok});")
        for engine in ("estimator", "keras"):
            if f"tf_function_over_{engine}" in row:
                ok = "met" if row[f"{engine}_within_1_2x_met"] else "MISSED"
                parts.append(f"tf.function = {row[f'tf_function_over_{engine}']:.2f}x {engine} (<= 1.2: {ok});")
        if "input_wait_fraction" in row:
            ok = "met" if row["input_wait_met"] else "MISSED"
            parts.append(f"input wait {row['input_wait_fraction']:.1%} of step (< 5%: {ok})")
        lines.append(" ".join(parts))
    return "\n".join(lines)


def plot(results: Sequence[RunResult], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys((r.model, r.strategy) for r in results))
    by = {(r.model, r.strategy, r.engine): r for r in results}
    fig, axes = plt.subplots(1, len(groups), figsize=(3.2 * len(groups), 3.6), squeeze=False)
    for ax, (model, strategy) in zip(axes[0], groups, strict=True):
        engines = [e for e in ENGINES if (model, strategy, e) in by]
        ax.bar(engines, [by[(model, strategy, e)].examples_per_sec for e in engines], color=["C0", "C1", "C2"])
        ax.set_title(f"{model}\n{strategy}", fontsize=9)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    axes[0][0].set_ylabel("examples / sec (steady state)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    child_main(sys.argv)
