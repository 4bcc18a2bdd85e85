"""Benchmark input pipelines with ``tfds.benchmark``: naive, tuned, each knob alone, and a ceiling.

Variants differ only in ``PipelineOptions``; every one runs the same work
(read, decode, resize, augment, batch) through the real source factory in
TRAIN mode. The ceiling is parallel decode and resize alone, batched: the
most any pipeline doing that work can deliver on this machine. Each variant
runs ``repeats`` times, round-robin (so load from other processes hits all
of them alike), and the best run counts.

tfds.benchmark's summary counts one batch too many in its 'first+lasts' and
'lasts' rows (4.9.x: num_examples + batch_size, and num_examples over the
time after the first batch); the figures here come from its raw timings.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
import platform
import time
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from common.errors import UsageError
from common.params import AugmentParams
from common.progress import run_counter
from input_fns import image_folder
from input_fns.pipeline_ops import TRAIN, InputFn, PipelineOptions
from input_fns.preprocessing import ImageSpec, decode_image

NAIVE = "naive"
TUNED = "tuned"
CEILING = "ceiling"
SYNTHETIC = "synthetic"
NAIVE_OPTIONS = PipelineOptions(parallel=False, prefetch=False, cache="none", deterministic=True)
TUNED_OPTIONS = PipelineOptions(parallel=True, prefetch=True, cache="memory", deterministic=False)
# Each knob alone, on top of the naive pipeline.
KNOBS = {
    "parallel": {"parallel": True},
    "prefetch": {"prefetch": True},
    "cache": {"cache": "memory"},
    "nondeterministic": {"deterministic": False},
}
VARIANTS = (NAIVE, *(f"+{knob}" for knob in KNOBS), TUNED, CEILING, SYNTHETIC)
# The target's augmentation: the cheap, resize-fused flips and zoom-crop, and brightness/contrast.
TARGET_AUGMENT = AugmentParams(horizontal_flip=True, zoom=0.2, brightness=0.2, contrast=0.2)


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
    batch_size: int = 32
    epochs: int = 1
    repeats: int = 3
    shuffle_buffer: int = 256
    augment: AugmentParams = TARGET_AUGMENT
    variants: tuple[str, ...] = VARIANTS
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class Workload:
    """What is benchmarked: a source's TRAIN input_fn for given options, and its ceiling."""

    name: str
    num_examples: int
    spec: ImageSpec
    make_input_fn: Callable[[PipelineOptions, AugmentParams, int], InputFn]  # (options, augment, batch_size)
    ceiling: Callable[[int, int], tf.data.Dataset]  # (batch_size, epochs) -> decode + resize, batched


def image_folder_workload(image_dir: str, spec: ImageSpec) -> Workload:
    _, files = image_folder.scan(image_dir)

    def make(options: PipelineOptions, augment: AugmentParams, batch_size: int) -> InputFn:
        return image_folder.make_input_fn(files, TRAIN, batch_size, "image", spec, options, augment)

    return Workload(
        image_dir, len(files), spec, make, lambda batch, epochs: ceiling_dataset(files.paths, spec, batch, epochs)
    )


def tfds_workload(builder, split: str, spec: ImageSpec) -> Workload:
    """A prepared TFDS dataset; its ceiling is TFDS's own parallel decode plus the resize."""
    from input_fns import tfds_source

    def make(options: PipelineOptions, augment: AugmentParams, batch_size: int) -> InputFn:
        return tfds_source.make_input_fn(
            builder, split, TRAIN, batch_size, "image", spec, options=options, augment=augment
        )

    def ceiling(batch_size: int, epochs: int) -> tf.data.Dataset:
        ds = builder.as_dataset(split=split, as_supervised=True).repeat(epochs)
        ds = ds.map(
            lambda image, label: tf.image.resize(image, (spec.height, spec.width)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=False,
        )
        return ds.batch(batch_size, drop_remainder=True)

    return Workload(builder.info.full_name, builder.info.splits[split].num_examples, spec, make, ceiling)


@dataclasses.dataclass(frozen=True)
class Timing:
    """One run's figures, corrected from tfds.benchmark's raw timings."""

    batches: int
    examples: int
    seconds: float
    first_batch_seconds: float
    examples_per_sec: float  # all batches, first included
    examples_per_sec_after_first: float  # first batch excluded, from its end
    cpu_ms_per_example: float = float("nan")  # process CPU time (all threads) per example: cost, not speed


@dataclasses.dataclass(frozen=True)
class VariantResult:
    name: str
    best: Timing
    runs: tuple[Timing, ...]


def corrected_timing(raw_stats, batch_size: int) -> Timing:
    """Figures from ``tfds.benchmark(...).raw_stats`` (start, first batch, end in seconds; num_iter)."""
    stats = raw_stats["duration"]
    start, first, end = float(stats["start_time"]), float(stats["first_batch_time"]), float(stats["end_time"])
    batches = int(stats["num_iter"])
    examples = batches * batch_size
    after_first = (batches - 1) * batch_size / (end - first) if batches > 1 and end > first else float("nan")
    return Timing(
        batches=batches,
        examples=examples,
        seconds=end - start,
        first_batch_seconds=first - start,
        examples_per_sec=examples / (end - start),
        examples_per_sec_after_first=after_first,
    )


def time_dataset(ds: tf.data.Dataset, num_batches: int, batch_size: int) -> Timing:
    # tfds.benchmark prints its own summary, whose two rows are off by a batch: keep it off the table.
    cpu_start = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        result = tfds.benchmark(ds, num_iter=num_batches, batch_size=batch_size)
    timing = corrected_timing(result.raw_stats, batch_size)
    cpu_ms = (time.process_time() - cpu_start) * 1e3 / max(timing.examples, 1)
    return dataclasses.replace(timing, cpu_ms_per_example=cpu_ms)


def variant_options(name: str, cfg: BenchmarkConfig) -> PipelineOptions:
    if name == TUNED:
        base = TUNED_OPTIONS
    elif name == NAIVE or name.lstrip("+") in KNOBS:
        base = dataclasses.replace(NAIVE_OPTIONS, **KNOBS.get(name.lstrip("+"), {}))
    else:
        raise ValueError(f"no pipeline options for variant '{name}'")
    return dataclasses.replace(base, shuffle_buffer=cfg.shuffle_buffer, seed=cfg.seed)


def ceiling_dataset(paths: Sequence[str], spec: ImageSpec, batch_size: int, epochs: int) -> tf.data.Dataset:
    """Parallel decode and resize alone, batched: nothing else."""

    def decode_resize(path: tf.Tensor) -> tf.Tensor:
        return tf.image.resize(decode_image(tf.io.read_file(path), spec.channels), (spec.height, spec.width))

    ds = tf.data.Dataset.from_tensor_slices(list(paths)).repeat(epochs)
    return ds.map(decode_resize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False).batch(
        batch_size, drop_remainder=True
    )


def synthetic_dataset(spec: ImageSpec, batch_size: int) -> tf.data.Dataset:
    from input_fns import synthetic

    return synthetic.make_input_fn(TRAIN, batch_size, 10, "image", spec)()


def build_variants(workload: Workload, cfg: BenchmarkConfig) -> dict[str, Callable[[], tf.data.Dataset]]:
    builders: dict[str, Callable[[], tf.data.Dataset]] = {}
    for name in cfg.variants:
        if name == CEILING:
            builders[name] = lambda: workload.ceiling(cfg.batch_size, cfg.epochs)
        elif name == SYNTHETIC:
            builders[name] = lambda: synthetic_dataset(workload.spec, cfg.batch_size)
        else:
            builders[name] = workload.make_input_fn(variant_options(name, cfg), cfg.augment, cfg.batch_size)
    return builders


def run(
    workload: Workload, cfg: BenchmarkConfig, progress: Callable[[str], None] = lambda line: None
) -> list[VariantResult]:
    """Every variant ``cfg.repeats`` times, round-robin, over ``cfg.epochs`` epochs; one warm-up first."""
    num_batches = cfg.epochs * (workload.num_examples // cfg.batch_size)
    if num_batches < 2:
        raise UsageError(
            "batch_size", f"{workload.num_examples} examples make fewer than 2 batches of {cfg.batch_size}"
        )
    builders = build_variants(workload, cfg)
    tfds.disable_progress_bar()
    # Warm-up: the file system cache, TensorFlow's kernels and thread pools.
    time_dataset(workload.ceiling(cfg.batch_size, 1), min(num_batches, 8), cfg.batch_size)
    runs: dict[str, list[Timing]] = {name: [] for name in builders}
    counter = run_counter(cfg.repeats * len(builders), progress)
    for repeat in range(cfg.repeats):
        for name, build in builders.items():
            timing = time_dataset(build(), num_batches, cfg.batch_size)
            runs[name].append(timing)
            note = (
                f"repeat {repeat + 1}/{cfg.repeats} {name:<18} {timing.examples_per_sec_after_first:9.1f} examples/sec"
            )
            counter.update(sum(map(len, runs.values())), note)
    return [
        VariantResult(name, max(timings, key=lambda t: t.examples_per_sec_after_first), tuple(timings))
        for name, timings in runs.items()
    ]


def target_check(results: Sequence[VariantResult]) -> dict[str, float | bool | None]:
    """tuned / ceiling (>= 0.9) and tuned / naive (>= 1.8), on examples/sec after the first batch."""
    by_name = {r.name: r.best.examples_per_sec_after_first for r in results}
    if not {TUNED, CEILING, NAIVE} <= by_name.keys():
        return {"tuned_vs_ceiling": None, "tuned_vs_naive": None, "met": None}
    vs_ceiling = by_name[TUNED] / by_name[CEILING]
    vs_naive = by_name[TUNED] / by_name[NAIVE]
    return {"tuned_vs_ceiling": vs_ceiling, "tuned_vs_naive": vs_naive, "met": vs_ceiling >= 0.9 and vs_naive >= 1.8}


def format_table(results: Sequence[VariantResult]) -> str:
    header = (
        f"{'variant':<18} {'ex/sec':>10} {'ex/sec after 1st':>17} {'1st batch s':>12} {'batches':>8} {'CPU ms/ex':>10}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        t = r.best
        lines.append(
            f"{r.name:<18} {t.examples_per_sec:>10.1f} {t.examples_per_sec_after_first:>17.1f} "
            f"{t.first_batch_seconds:>12.3f} {t.batches:>8} {t.cpu_ms_per_example:>10.3f}"
        )
    check = target_check(results)
    if check["met"] is not None:
        lines.append(
            f"tuned = {check['tuned_vs_ceiling']:.0%} of ceiling (target >= 90%), "
            f"{check['tuned_vs_naive']:.2f}x naive (target >= 1.8x): {'met' if check['met'] else 'MISSED'}"
        )
    return "\n".join(lines)


def write_outputs(
    results: Sequence[VariantResult], workload: Workload, cfg: BenchmarkConfig, out_dir: str, command: str = ""
) -> dict[str, str]:
    """benchmark.json (config, machine, every run), benchmark.csv (best runs) and benchmark.png."""
    tf.io.gfile.makedirs(out_dir)
    paths = {kind: os.path.join(out_dir, f"benchmark.{kind}") for kind in ("json", "csv", "png")}
    report = {
        "command": command,
        "workload": {
            "name": workload.name,
            "examples": workload.num_examples,
            "image": dataclasses.asdict(workload.spec),
        },
        "config": dataclasses.asdict(cfg),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "tensorflow": tf.__version__},
        "target": target_check(results),
        "variants": [
            {"name": r.name, "best": dataclasses.asdict(r.best), "runs": [dataclasses.asdict(t) for t in r.runs]}
            for r in results
        ],
    }
    with tf.io.gfile.GFile(paths["json"], "w") as f:
        json.dump(report, f, indent=2)
    with tf.io.gfile.GFile(paths["csv"], "w") as f:
        writer = csv.writer(f)
        fields = [field.name for field in dataclasses.fields(Timing)]
        writer.writerow(["variant", *fields])
        for r in results:
            writer.writerow([r.name, *(getattr(r.best, name) for name in fields)])
    _bar_chart(results, paths["png"])
    return paths


def _bar_chart(results: Sequence[VariantResult], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Synthetic data runs hundreds of times faster than anything that reads files: keep it off the scale.
    shown = [r for r in results if r.name != SYNTHETIC]
    names = [r.name for r in shown]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(names)), 4))
    ax.bar(x - 0.2, [r.best.examples_per_sec_after_first for r in shown], 0.4, label="after first batch")
    ax.bar(x + 0.2, [r.best.examples_per_sec for r in shown], 0.4, label="first batch included")
    ceiling = next((r.best.examples_per_sec_after_first for r in shown if r.name == CEILING), None)
    if ceiling:
        ax.axhline(0.9 * ceiling, color="gray", linestyle="--", linewidth=1, label="90% of ceiling")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel("examples / sec")
    title = "input pipeline throughput (best run)"
    synthetic = next((r for r in results if r.name == SYNTHETIC), None)
    if synthetic:
        title += f"; synthetic: {synthetic.best.examples_per_sec_after_first:,.0f}/s"
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(buffer.getvalue())


def write_benchmark_images(
    out_dir: str, count: int = 2000, size: int = 300, num_classes: int = 3, seed: int = 0, quality: int = 90
) -> int:
    """An image folder tree of ``count`` JPEGs (``size`` square, like rock_paper_scissors), classes c0..cN.

    Smooth gradients with a few filled ellipses and mild noise: about 20 KB
    each, closer to photographs than random noise is to JPEG decode cost.
    """
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    for c in range(num_classes):
        os.makedirs(os.path.join(out_dir, f"c{c}"), exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(count):
        base = rng.integers(0, 255, 3)
        ramp = xx * rng.uniform(-0.3, 0.3) + yy * rng.uniform(-0.3, 0.3)
        image = Image.fromarray(np.clip(base + ramp[..., None], 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(5):
            x0, y0 = rng.integers(0, size - size // 6, 2)
            w, h = rng.integers(size // 15, size // 2.5, 2)
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
        pixels = np.asarray(image).astype(np.int16) + rng.integers(-8, 8, (size, size, 3))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
            os.path.join(out_dir, f"c{i % num_classes}", f"img{i:05d}.jpg"), quality=quality
        )
    return count
