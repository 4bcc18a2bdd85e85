"""Benchmark input pipelines: naive, tuned, each knob alone, the ceiling, and what users pick instead.

Every figure is over the same image folder, augmentation and batch, measured in
one process, round-robin over ``repeats`` (load from other processes hits all
variants alike), and the best run counts.

- First epoch (the figures the targets read): kestrel's variants differ only in
  ``PipelineOptions`` and run the same work (read, decode, resize, augment,
  batch) through the real source factory in TRAIN mode, from a fresh pipeline.
  The ceiling is parallel read, decode and resize alone, batched and prefetched
  with the same tf.data tuning: the least work any of them does per image, so
  none can beat it. The figure is examples over the whole timed run, first
  batch included: a pipeline whose shuffle buffer fills before its first batch
  has done that work inside the time too.
- Cached epoch, labelled as such: the tuned pipeline after one untimed epoch
  has filled its cache of decoded images (no decode any more), against its own
  ceiling: resize alone from the same cache.
- Alternatives (``benchmarks/alternatives.py``): Keras's ImageDataGenerator and
  image_dataset_from_directory with preprocessing layers, same folder, same
  recipe, first epoch.

CPU ms per example is the process's CPU time (every thread) over the timed
batches per example: cost, where examples/sec is speed.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import tensorflow as tf

from benchmarks import alternatives, reporting
from common.errors import UsageError
from common.params import AugmentParams
from common.progress import run_counter
from input_fns import image_folder
from input_fns.pipeline_ops import FIT, InputFn, InputRequest, PipelineOptions
from input_fns.preprocessing import ImageSpec, decode_image

NAIVE = "naive"
TUNED = "tuned"
CEILING = "ceiling"
TUNED_CACHED = "tuned_cached_epoch"
CEILING_CACHED = "ceiling_cached_epoch"
SYNTHETIC = "synthetic"
KERAS_GENERATOR = alternatives.KERAS_GENERATOR
KERAS_LAYERS = alternatives.KERAS_LAYERS
NAIVE_OPTIONS = PipelineOptions(parallel=False, prefetch=False, cache="none", deterministic=True)
TUNED_OPTIONS = PipelineOptions(parallel=True, prefetch=True, cache="memory", deterministic=False)
# Each knob alone, on top of the naive pipeline.
KNOBS = {
    "parallel": {"parallel": True},
    "prefetch": {"prefetch": True},
    "cache": {"cache": "memory"},
    "nondeterministic": {"deterministic": False},
}
VARIANTS = (
    NAIVE,
    *(f"+{knob}" for knob in KNOBS),
    TUNED,
    CEILING,
    KERAS_GENERATOR,
    KERAS_LAYERS,
    TUNED_CACHED,
    CEILING_CACHED,
    SYNTHETIC,
)
FIRST_EPOCH, CACHED_EPOCH, NO_IO = "first epoch", "cached epoch", "no I/O"
GROUPS = {TUNED_CACHED: CACHED_EPOCH, CEILING_CACHED: CACHED_EPOCH, SYNTHETIC: NO_IO}
# The target's augmentation: the cheap, resize-fused flips and zoom-crop, and brightness/contrast.
TARGET_AUGMENT = AugmentParams(horizontal_flip=True, zoom=0.2, brightness=0.2, contrast=0.2)
# The input pipeline's speed targets, on first-epoch examples/sec: (key, numerator, denominator, at least).
TARGETS = (
    ("tuned_vs_ceiling", TUNED, CEILING, 0.9),
    ("tuned_vs_keras_layers", TUNED, KERAS_LAYERS, 5.0),
    ("tuned_vs_keras_generator", TUNED, KERAS_GENERATOR, 10.0),
)
# Reported, not targets: the ratio to the naive pipeline and the cached epoch's.
RATIOS = (("tuned_vs_naive", TUNED, NAIVE), ("tuned_cached_vs_ceiling_cached", TUNED_CACHED, CEILING_CACHED))


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
    """What is benchmarked: a source's TRAIN input_fn for given options, and its ceilings."""

    name: str
    num_examples: int
    spec: ImageSpec
    make_input_fn: Callable[[PipelineOptions, AugmentParams, int], InputFn]  # (options, augment, batch_size)
    ceiling: Callable[[int], tf.data.Dataset]  # batch_size -> decode + resize, batched, endless
    ceiling_cached: Callable[[int], tf.data.Dataset] | None = None  # decoded images cached, then resize
    image_dir: str | None = None  # an image folder: the Keras alternatives can read it too


def image_folder_workload(image_dir: str, spec: ImageSpec) -> Workload:
    _, files = image_folder.scan(image_dir)

    def make(options: PipelineOptions, augment: AugmentParams, batch_size: int) -> InputFn:
        return image_folder.input_fn(files, InputRequest(FIT, batch_size, "image", spec), options, augment)

    return Workload(
        image_dir,
        len(files),
        spec,
        make,
        lambda batch: ceiling_dataset(files.paths, spec, batch),
        lambda batch: ceiling_dataset(files.paths, spec, batch, cached=True),
        image_dir=image_dir,
    )


def tfds_workload(builder, split: str, spec: ImageSpec) -> Workload:
    """A prepared TFDS dataset; its ceiling is TFDS's own parallel decode plus the resize."""
    from input_fns import tfds_source

    def make(options: PipelineOptions, augment: AugmentParams, batch_size: int) -> InputFn:
        return tfds_source.input_fn(
            builder, split, InputRequest(FIT, batch_size, "image", spec), options=options, augment=augment
        )

    def ceiling(batch_size: int) -> tf.data.Dataset:
        ds = builder.as_dataset(split=split, as_supervised=True).repeat()
        ds = ds.map(
            lambda image, label: tf.image.resize(image, (spec.height, spec.width)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=False,
        )
        return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    return Workload(builder.info.full_name, builder.info.splits[split].num_examples, spec, make, ceiling)


@dataclasses.dataclass(frozen=True)
class Timing:
    """One run's figures."""

    batches: int
    examples: int
    seconds: float
    first_batch_seconds: float
    examples_per_sec: float  # all timed batches, first included: the figure that counts
    examples_per_sec_after_first: float  # first batch excluded, from its end
    cpu_ms_per_example: float = float("nan")  # process CPU time (all threads) per example: cost, not speed
    untimed_batches: int = 0  # read before the clock started (the cached epoch's first epoch)
    load_1min: float = float("nan")  # os.getloadavg()[0] at the end of the run


@dataclasses.dataclass(frozen=True)
class VariantResult:
    name: str
    best: Timing
    runs: tuple[Timing, ...]

    @property
    def group(self) -> str:
        return GROUPS.get(self.name, FIRST_EPOCH)


@dataclasses.dataclass(frozen=True)
class Variant:
    """How to build one variant's endless stream of batches, and how many to read before timing."""

    name: str
    build: Callable[[], Iterable]
    untimed_batches: int = 0


def _batch_examples(batch) -> int:
    return int(tf.nest.flatten(batch)[0].shape[0])


def time_batches(batches: Iterable, num_batches: int, untimed_batches: int = 0) -> Timing:
    """Read ``untimed_batches`` then time ``num_batches`` more (wall and process CPU time)."""
    iterator = iter(batches)
    for _ in range(untimed_batches):
        next(iterator)
    cpu_start, start = time.process_time(), time.perf_counter()
    examples = first_examples = 0
    first = start
    for index in range(num_batches):
        examples += _batch_examples(next(iterator))
        if index == 0:
            first, first_examples = time.perf_counter(), examples
    end = time.perf_counter()
    cpu_ms = (time.process_time() - cpu_start) * 1e3 / max(examples, 1)
    after_first = (examples - first_examples) / (end - first) if num_batches > 1 and end > first else float("nan")
    return Timing(
        batches=num_batches,
        examples=examples,
        seconds=end - start,
        first_batch_seconds=first - start,
        examples_per_sec=examples / (end - start),
        examples_per_sec_after_first=after_first,
        cpu_ms_per_example=cpu_ms,
        untimed_batches=untimed_batches,
        load_1min=round(os.getloadavg()[0], 2),
    )


def variant_options(name: str, cfg: BenchmarkConfig) -> PipelineOptions:
    if name in (TUNED, TUNED_CACHED):
        base = TUNED_OPTIONS
    elif name == NAIVE or name.lstrip("+") in KNOBS:
        base = dataclasses.replace(NAIVE_OPTIONS, **KNOBS.get(name.lstrip("+"), {}))
    else:
        raise ValueError(f"no pipeline options for variant '{name}'")
    return dataclasses.replace(base, shuffle_buffer=cfg.shuffle_buffer, seed=cfg.seed)


def ceiling_dataset(paths: Sequence[str], spec: ImageSpec, batch_size: int, cached: bool = False) -> tf.data.Dataset:
    """Parallel read, decode and resize alone, batched and prefetched, endless: nothing else.

    The decode is the pipelines' own (``decode_image``, with its header check).
    ``cached``: decoded images are cached (read the stream for an epoch before
    timing it), so a timed epoch is the resize alone, as the tuned pipeline's
    cached epochs skip decoding.
    """
    parallel = {"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": False}
    ds = tf.data.Dataset.from_tensor_slices(list(paths))
    ds = ds.map(lambda path: decode_image(tf.io.read_file(path), spec.channels), **parallel)
    if cached:
        ds = ds.cache()
    ds = ds.repeat().map(lambda image: tf.image.resize(image, (spec.height, spec.width)), **parallel)
    options = tf.data.Options()
    options.deterministic = False
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE).with_options(options)


def synthetic_dataset(spec: ImageSpec, batch_size: int) -> tf.data.Dataset:
    from input_fns import synthetic

    return synthetic.input_fn(FIT, batch_size, 10, "image", spec)()


def cache_fill_batches(workload: Workload, cfg: BenchmarkConfig) -> int:
    """Batches to read before a cached epoch is timed: one epoch, the shuffle buffer and the prefetch past it."""
    return math.ceil((workload.num_examples + cfg.shuffle_buffer) / cfg.batch_size) + 2


def build_variants(workload: Workload, cfg: BenchmarkConfig) -> list[Variant]:
    """The requested variants this workload has (the Keras ones and a cached ceiling need an image folder)."""
    fill = cache_fill_batches(workload, cfg)
    image_dir, spec, batch = workload.image_dir, workload.spec, cfg.batch_size
    variants = []
    for name in cfg.variants:
        if name == CEILING:
            variants.append(Variant(name, lambda: workload.ceiling(batch)))
        elif name == CEILING_CACHED and workload.ceiling_cached is not None:
            variants.append(Variant(name, lambda: workload.ceiling_cached(batch), fill))
        elif name == SYNTHETIC:
            variants.append(Variant(name, lambda: synthetic_dataset(spec, batch)))
        elif name == KERAS_GENERATOR and image_dir:
            variants.append(
                Variant(name, lambda: alternatives.keras_generator(image_dir, spec, cfg.augment, batch, cfg.seed))
            )
        elif name == KERAS_LAYERS and image_dir:
            variants.append(
                Variant(name, lambda: alternatives.keras_layers(image_dir, spec, cfg.augment, batch, cfg.seed))
            )
        elif name in (NAIVE, TUNED, TUNED_CACHED) or name.lstrip("+") in KNOBS:
            input_fn = workload.make_input_fn(variant_options(name, cfg), cfg.augment, batch)
            variants.append(Variant(name, input_fn, fill if name == TUNED_CACHED else 0))
    return variants


def run(
    workload: Workload, cfg: BenchmarkConfig, progress: Callable[[str], None] = lambda line: None
) -> list[VariantResult]:
    """Every variant ``cfg.repeats`` times, round-robin, over ``cfg.epochs`` epochs; one warm-up first."""
    num_batches = cfg.epochs * (workload.num_examples // cfg.batch_size)
    if num_batches < 2:
        raise UsageError(
            "batch_size", f"{workload.num_examples} examples make fewer than 2 batches of {cfg.batch_size}"
        )
    variants = build_variants(workload, cfg)
    # Warm-up: the file system cache, TensorFlow's kernels and thread pools.
    time_batches(workload.ceiling(cfg.batch_size), min(num_batches, 8))
    runs: dict[str, list[Timing]] = {v.name: [] for v in variants}
    counter = run_counter(cfg.repeats * len(variants), progress)
    for repeat in range(cfg.repeats):
        for variant in variants:
            # A fresh pipeline per run: a first epoch is a first epoch (no cache, no warm buffers).
            timing = time_batches(variant.build(), num_batches, variant.untimed_batches)
            runs[variant.name].append(timing)
            note = (
                f"repeat {repeat + 1}/{cfg.repeats} {variant.name:<20} {timing.examples_per_sec:9.1f} examples/sec "
                f"{timing.cpu_ms_per_example:6.3f} CPU ms/ex  load {timing.load_1min:.1f}"
            )
            counter.update(sum(map(len, runs.values())), note)
    return [
        VariantResult(name, max(timings, key=lambda t: t.examples_per_sec), tuple(timings))
        for name, timings in runs.items()
    ]


def _ratio(rates: dict[str, float], numerator: str, denominator: str) -> float | None:
    if numerator not in rates or denominator not in rates:
        return None
    return rates[numerator] / rates[denominator]


def target_check(results: Sequence[VariantResult]) -> dict[str, float | bool | None]:
    """The speed targets (TARGETS) on first-epoch examples/sec (first batch included), and the reported ratios.

    ``met`` is True when every target whose variants ran is met, None when none could be checked.
    """
    rates = {r.name: r.best.examples_per_sec for r in results}
    check: dict[str, float | bool | None] = {}
    met = []
    for key, numerator, denominator, at_least in TARGETS:
        ratio = _ratio(rates, numerator, denominator)
        check[key] = ratio
        check[f"{key}_met"] = None if ratio is None else ratio >= at_least
        if ratio is not None:
            met.append(ratio >= at_least)
    for key, numerator, denominator in RATIOS:
        check[key] = _ratio(rates, numerator, denominator)
    check["met"] = all(met) if met else None
    return check


# Each column's title, its values' format spec (alignment and width first) and a variant's value in it.
_COLUMNS = (
    ("variant", "<22", lambda r: r.name),
    ("epoch", "<13", lambda r: r.group),
    ("ex/sec", ">10.1f", lambda r: r.best.examples_per_sec),
    ("ex/sec after 1st", ">17.1f", lambda r: r.best.examples_per_sec_after_first),
    ("1st batch s", ">12.3f", lambda r: r.best.first_batch_seconds),
    ("batches", ">8", lambda r: r.best.batches),
    ("CPU ms/ex", ">10.3f", lambda r: r.best.cpu_ms_per_example),
    ("load", ">5.1f", lambda r: r.best.load_1min),
)


def format_table(results: Sequence[VariantResult]) -> str:
    lines = reporting.table(_COLUMNS, results)
    lines.extend(target_lines(target_check(results)))
    return "\n".join(lines)


def target_lines(check: dict) -> list[str]:
    lines = []
    for key, numerator, denominator, at_least in TARGETS:
        if check[key] is None:
            continue
        shown = f"{check[key]:.0%} of" if at_least < 1 else f"{check[key]:.2f}x"
        wanted = f">= {at_least:.0%}" if at_least < 1 else f">= {at_least:g}x"
        verdict = "met" if check[f"{key}_met"] else "MISSED"
        lines.append(f"first epoch: {numerator} = {shown} {denominator} (target {wanted}): {verdict}")
    if check["tuned_vs_naive"] is not None:
        lines.append(f"first epoch: {TUNED} = {check['tuned_vs_naive']:.2f}x {NAIVE}")
    if check["tuned_cached_vs_ceiling_cached"] is not None:
        lines.append(
            f"cached epoch (after one untimed epoch): {TUNED_CACHED} = "
            f"{check['tuned_cached_vs_ceiling_cached']:.0%} of {CEILING_CACHED}"
        )
    return lines


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
        "machine": {**reporting.machine(), "tensorflow": tf.__version__},
        "figure": "examples_per_sec: the whole timed run, first batch included; the best of the repeats",
        "target": target_check(results),
        "variants": [
            {
                "name": r.name,
                "epoch": r.group,
                "best": dataclasses.asdict(r.best),
                "runs": [dataclasses.asdict(t) for t in r.runs],
            }
            for r in results
        ],
    }
    with tf.io.gfile.GFile(paths["json"], "w") as f:
        json.dump(report, f, indent=2)
    with tf.io.gfile.GFile(paths["csv"], "w") as f:
        writer = csv.writer(f)
        fields = [field.name for field in dataclasses.fields(Timing)]
        writer.writerow(["variant", "epoch", *fields])
        for r in results:
            writer.writerow([r.name, r.group, *(getattr(r.best, name) for name in fields)])
    _bar_chart(results, paths["png"])
    return paths


_COLOURS = {FIRST_EPOCH: "tab:blue", CACHED_EPOCH: "tab:orange"}


def _bar_chart(results: Sequence[VariantResult], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Synthetic data runs hundreds of times faster than anything that reads files: keep it off the scale.
    shown = [r for r in results if r.group != NO_IO]
    names = [r.name for r in shown]
    colours = ["tab:gray" if r.name in alternatives.ALTERNATIVES else _COLOURS.get(r.group, "tab:blue") for r in shown]
    x = np.arange(len(names))
    fig, (speed, cost) = plt.subplots(1, 2, figsize=(max(10, 1.6 * len(names)), 4.5))
    speed.bar(x, [r.best.examples_per_sec for r in shown], color=colours)
    for i, r in enumerate(shown):
        speed.annotate(f"{r.best.examples_per_sec:,.0f}", (i, r.best.examples_per_sec), ha="center", va="bottom")
    ceiling = next((r.best.examples_per_sec for r in shown if r.name == CEILING), None)
    if ceiling:
        speed.axhline(0.9 * ceiling, color="tab:blue", linestyle="--", linewidth=1, label="90% of first-epoch ceiling")
        speed.legend(loc="upper left")
    speed.set_ylabel("examples / sec (best run, first batch included)")
    speed.set_title("speed: blue first epoch, orange cached epoch, gray Keras")
    cost.bar(x, [r.best.cpu_ms_per_example for r in shown], color=colours)
    cost.set_ylabel("process CPU ms per example")
    cost.set_yscale("log")
    cost.set_title("cost (log scale)")
    for ax in (speed, cost):
        ax.set_xticks(x, names, rotation=35, ha="right")
    synthetic = next((r for r in results if r.name == SYNTHETIC), None)
    if synthetic:
        fig.suptitle(f"input pipelines; synthetic (no I/O): {synthetic.best.examples_per_sec:,.0f}/s")
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
