"""How near the machine's fp32 peak the models run: FLOP/s of inference and training as a fraction of a matmul's.

In one run:

1. the peak: a ``tf.function`` of an NxN fp32 matmul (4096 by default), warmed up, best of several;
2. the work: each model's FLOPs per example, counted by TensorFlow's own profiler
   (``tf.compat.v1.profiler.profile(..., ProfileOptionBuilder.float_operation())``) on the graph of a
   concrete function: the inference pass, and the whole training step (forward, the gradient graph's
   Conv2DBackpropInput/Filter and MatMuls, the optimizer update). Not 3x forward: the gradient graph is
   counted. An analytic count of the Conv2D and Dense layers' multiply-adds cross-checks the forward figure;
3. the times, over the same data (digits resized to the model's input, the same TFDS input pipeline):
   - inference: a bare ``tf.function`` loop over the input pipeline, and kestrel's bottleneck feature
     extraction (``estimators.stages.bottleneck.cached_features``, features computed and saved), round-robin,
     best pass counts; also the bare pass on one batch held in memory (no input pipeline);
   - training, every layer trainable: the bare ``tf.function`` loop (GradientTape + apply_gradients) and
     kestrel's Estimator engine, each in its own child by ``benchmarks/training_throughput.py``, round-robin;
4. FLOP/s = examples/sec x FLOPs per example, its fraction of the peak, and kestrel / bare (targets: >= 0.95
   for the extraction, >= 0.9 for training).

The in-process part runs in a child (``python -m benchmarks.compute '<json>'``) so its memory and
TensorFlow state are its own; it measures the peak at its start and at its end (best counts).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence

from common.progress import run_counter

RESULT_PREFIX = "COMPUTE_RESULT "
# kestrel / bare at least: the extraction is one traced forward, as the bare loop's (issue 29's target).
TARGET_RATIO = {"inference": 0.95, "training": 0.9}
# The training figures come from these two loops of benchmarks/training_throughput.py.
BARE_TRAIN, KESTREL_TRAIN = "tf_function", "estimator"


@dataclasses.dataclass(frozen=True)
class Config:
    out_dir: str
    data_dir: str | None
    models: tuple[str, ...] = ("vgg16",)
    image_size: int = 160
    batch_size: int = 32
    matmul_size: int = 4096
    matmul_repeats: int = 5
    forward_batches: int = 4  # timed batches in each inference pass
    train_warmup_steps: int = 2
    train_steps: int = 4
    repeats: int = 2  # round-robin rounds of every comparison; the best counts
    timeout: float = 1800


# --- in the child process ------------------------------------------------------------------------


def matmul_peak(size: int, repeats: int) -> dict:
    """Best fp32 FLOP/s of one ``size`` x ``size`` matmul in a tf.function (2 n^3 FLOPs), after a warm-up."""
    import tensorflow as tf

    a = tf.random.normal([size, size], seed=1)
    b = tf.random.normal([size, size], seed=2)

    @tf.function
    def matmul(x, y):
        # A scalar out: the wait for the result is not a copy of the whole matrix.
        return tf.reduce_sum(tf.matmul(x, y)[:1, :1])

    matmul(a, b).numpy()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        matmul(a, b).numpy()
        seconds.append(time.perf_counter() - started)
    flops = 2.0 * size**3
    return {"size": size, "flops": flops, "best_seconds": min(seconds), "flops_per_sec": flops / min(seconds)}


def profiled_flops(function, *specs) -> float:
    """Total float operations TensorFlow's profiler counts in the graph of ``function``'s concrete function."""
    import tensorflow as tf

    graph = tf.function(function).get_concrete_function(*specs).graph
    options = (
        tf.compat.v1.profiler.ProfileOptionBuilder(tf.compat.v1.profiler.ProfileOptionBuilder.float_operation())
        .with_empty_output()
        .build()
    )
    return float(tf.compat.v1.profiler.profile(graph, options=options).total_float_ops)


def analytic_forward_flops(model) -> float:
    """2 x multiply-adds of every Conv2D, DepthwiseConv2D and Dense layer, per example (the cross-check)."""
    import numpy as np
    import tensorflow as tf

    total = 0.0
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            total += 2.0 * np.prod(layer.output_shape[1:]) * kh * kw
        elif isinstance(layer, tf.keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            total += 2.0 * np.prod(layer.output_shape[1:]) * kh * kw * layer.input_shape[-1]
        elif isinstance(layer, tf.keras.layers.Dense):
            total += 2.0 * layer.input_shape[-1] * layer.units
    return float(total)


def train_step_flops(model, batch_size: int) -> float:
    """FLOPs of one training step of ``model`` as the bare loop runs it (loss, gradients, the optimizer)."""
    import tensorflow as tf

    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(reduction=tf.keras.losses.Reduction.NONE)
    optimizer = model.optimizer

    def step(images, labels):
        with tf.GradientTape() as tape:
            loss = tf.nn.compute_average_loss(
                loss_fn(labels, model(images, training=True)), global_batch_size=batch_size
            )
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    images = tf.TensorSpec([batch_size, *model.input_shape[1:]], tf.float32)
    return profiled_flops(step, images, tf.TensorSpec([batch_size], tf.int64))


def _model_work(name: str, cfg: Config, builder, num_classes: int) -> dict:
    """FLOPs per example: inference (the frozen base, or the whole model without one) and training."""
    import tensorflow as tf

    from benchmarks.training_throughput import _image_spec
    from common.errors import UsageError
    from estimators.models import build_model
    from estimators.models.spec import ModelSpec
    from estimators.stages import bottleneck

    image = _image_spec(name, cfg.image_size)
    tf.keras.utils.set_random_seed(1)
    trainable = build_model(name, ModelSpec(image=image, num_classes=num_classes, trainable_base=True))
    train = train_step_flops(trainable, cfg.batch_size) / cfg.batch_size
    del trainable
    model = build_model(name, ModelSpec(image=image, num_classes=num_classes))
    try:
        extractor = bottleneck.feature_extractor(model)
    except UsageError:  # no frozen base (small_cnn): the inference pass is the whole model
        extractor = None
    forward_model = extractor or model
    spec = tf.TensorSpec([cfg.batch_size, *forward_model.input_shape[1:]], tf.float32)
    forward = profiled_flops(lambda x: forward_model(x, training=False), spec) / cfg.batch_size
    return {
        "image": image,
        "extractor": extractor,
        "forward_model": forward_model,
        "flops": {
            "inference_per_example": forward,
            "inference_per_example_analytic": analytic_forward_flops(forward_model),
            "training_per_example": train,
            "training_over_inference": train / forward,
            "inference_pass": "feature extractor (frozen base)" if extractor is not None else "whole model",
        },
    }


def _inference_passes(name: str, work: dict, cfg: Config, builder, counter, done: list) -> dict:
    """Bare tf.function loop vs kestrel's feature extraction over the same input pipeline, round-robin."""
    import numpy as np
    import tensorflow as tf

    from estimators.stages import bottleneck
    from input_fns import pipeline_ops, tfds_source

    examples = cfg.batch_size * cfg.forward_batches

    def images(split: str):
        # As scripts/bottleneck_benchmark.py reads the images for the cache.
        return tfds_source.input_fn(
            builder,
            split,
            pipeline_ops.InputRequest(pipeline_ops.EVALUATE, cfg.batch_size, "image", work["image"]),
            cache=False,
        )

    model = work["forward_model"]
    bare = tf.function(lambda x: model(x, training=False))
    extractor = work["extractor"]
    passes: dict[str, list[float]] = {"bare_forward_in_memory": [], "bare_forward": []}
    if extractor is not None:
        passes["kestrel_extraction"] = []
    batch = next(iter(images(f"train[:{cfg.batch_size}]")()))[0]["image"]
    bare(batch).numpy()  # trace outside the timing
    with tempfile.TemporaryDirectory() as scratch:
        if extractor is not None:  # kestrel's one traced pass, outside the timing too
            bottleneck.cached_features(extractor, images(f"train[:{cfg.batch_size}]"), "image", f"{scratch}/warm.npz")
        for repeat in range(cfg.repeats):
            started = time.perf_counter()
            for _ in range(cfg.forward_batches):
                bare(batch).numpy()
            passes["bare_forward_in_memory"].append(time.perf_counter() - started)
            started = time.perf_counter()
            out = np.concatenate([bare(f["image"]).numpy() for f, _ in images(f"train[:{examples}]")()])
            passes["bare_forward"].append(time.perf_counter() - started)
            if extractor is not None:
                path = f"{scratch}/{repeat}.npz"  # a new file each pass: a miss, so features are computed and saved
                started = time.perf_counter()
                features, _, _, hit = bottleneck.cached_features(
                    extractor, images(f"train[:{examples}]"), "image", path
                )
                passes["kestrel_extraction"].append(time.perf_counter() - started)
                if hit or features.shape[0] != out.shape[0]:
                    raise RuntimeError(f"the extraction did not compute {out.shape[0]} features")
            done[0] += 1
            counter.update(done[0], f"{name} inference round {repeat + 1}: " + _seconds(passes))
    rate = {k: examples / min(v) for k, v in passes.items()}
    return {"examples": examples, "seconds": passes, "examples_per_sec": rate}


def _seconds(passes: dict[str, list[float]]) -> str:
    return ", ".join(f"{k} {v[-1]:.2f} s" for k, v in passes.items())


def measure(cfg: Config) -> dict:
    """The in-process part (the child): the peak before and after, the FLOPs and the inference passes."""
    from input_fns import tfds_source

    counter = run_counter(2 + len(cfg.models) * (1 + cfg.repeats), what="compute measurement", unit="measurements")
    done = [0]
    peaks = [matmul_peak(cfg.matmul_size, cfg.matmul_repeats)]
    done[0] += 1
    counter.update(done[0], f"matmul {cfg.matmul_size}: {peaks[0]['flops_per_sec'] / 1e9:,.1f} GFLOP/s")
    builder = tfds_source.load_builder("digits", cfg.data_dir)
    num_classes = tfds_source.dataset_meta(builder).num_classes
    models = {}
    for name in cfg.models:
        work = _model_work(name, cfg, builder, num_classes)
        done[0] += 1
        counter.update(
            done[0], f"{name}: {work['flops']['training_per_example'] / 1e9:,.2f} GFLOP per training example"
        )
        models[name] = {"flops": work["flops"], "inference": _inference_passes(name, work, cfg, builder, counter, done)}
    peaks.append(matmul_peak(cfg.matmul_size, cfg.matmul_repeats))
    done[0] += 1
    counter.update(done[0], f"matmul {cfg.matmul_size} again: {peaks[1]['flops_per_sec'] / 1e9:,.1f} GFLOP/s")
    return {"peaks": peaks, "models": models, "load_average": [round(x, 2) for x in os.getloadavg()]}


def child_main(argv: Sequence[str]) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import warnings

    warnings.filterwarnings("ignore")
    from absl import logging

    logging.set_verbosity(logging.ERROR)
    import logging as pylogging

    # The profiler's FLOP functions call a deprecated TF1 helper: its warning is noise here.
    pylogging.getLogger("tensorflow").setLevel(pylogging.ERROR)
    raw = json.loads(argv[1])
    cfg = Config(**{**raw, "models": tuple(raw["models"])})
    print(RESULT_PREFIX + json.dumps(measure(cfg)), flush=True)


# --- in the caller's process ---------------------------------------------------------------------


def _training_plan(cfg: Config):
    from benchmarks import training_throughput

    return training_throughput.Plan(
        data_dir=cfg.data_dir,
        models=cfg.models,
        strategies=("default",),
        engines=(KESTREL_TRAIN, BARE_TRAIN),
        repeats=cfg.repeats,
        sizes={m: (cfg.batch_size, cfg.train_warmup_steps, cfg.train_steps, cfg.image_size) for m in cfg.models},
        timeout=cfg.timeout,
        trainable_base=True,  # the full training step: every layer's gradients
    )


def run(cfg: Config, echo: Callable[[str], None] | None = None) -> dict:
    """Measure, print nothing but progress (through ``echo``); write compute.json and compute.png; return the record."""
    from benchmarks import reporting, training_throughput
    from common import processes as memory

    say = echo or print
    load_before = [round(x, 2) for x in os.getloadavg()]
    argv = memory.python_module("benchmarks.compute", json.dumps(dataclasses.asdict(cfg)))
    # The result line is data for this process, not a line to show.
    measured = memory.run_measured(
        argv, timeout=cfg.timeout, echo=lambda line: None if line.startswith(RESULT_PREFIX) else say(line)
    ).check()
    found = measured.first_line(lambda line: line.startswith(RESULT_PREFIX))
    if found is None:
        raise RuntimeError(f"no result from the compute child:\n{measured.output()[-2000:]}")
    child = json.loads(found[1][len(RESULT_PREFIX) :])
    trained = training_throughput.run(_training_plan(cfg), say)
    result = assemble(cfg, child, [dataclasses.asdict(r) for r in trained])
    result.update(
        command=[sys.executable, *sys.argv],
        machine=reporting.machine(),
        load_average_before=load_before,
        peak_rss_mb_inference_child=measured.peak_rss_mb,
        files={"json": os.path.join(cfg.out_dir, "compute.json"), "png": os.path.join(cfg.out_dir, "compute.png")},
    )
    reporting.write_json(result, result["files"]["json"])
    plot(result, result["files"]["png"])
    return result


def assemble(cfg: Config, child: dict, training_runs: list[dict]) -> dict:
    """Rows of FLOP/s and fraction of the peak; kestrel / bare ratios against the target."""
    peak = max(p["flops_per_sec"] for p in child["peaks"])
    rows, ratios = [], []
    for name, figures in child["models"].items():
        flops = figures["flops"]
        inference = figures["inference"]["examples_per_sec"]
        labels = {
            "bare_forward_in_memory": "bare tf.function forward, one batch in memory",
            "bare_forward": "bare tf.function forward over the input pipeline",
            "kestrel_extraction": "kestrel bottleneck extraction (cached_features)",
        }
        for key, rate in inference.items():
            rows.append(_row(name, "inference", labels[key], key, rate, flops["inference_per_example"], peak))
        train = {r["engine"]: r for r in training_runs if r["model"] == name}
        for engine, label in (
            (BARE_TRAIN, "bare tf.function training step"),
            (KESTREL_TRAIN, "kestrel Estimator engine"),
        ):
            if engine in train:
                r = train[engine]
                row = _row(name, "training", label, engine, r["examples_per_sec"], flops["training_per_example"], peak)
                row.update(
                    median_step_ms=r["median_step_ms"],
                    input_wait_fraction=r["input_wait_fraction"],
                    peak_rss_mb=r["peak_rss_mb"],
                )
                rows.append(row)
        if "kestrel_extraction" in inference:
            ratios.append(_ratio(name, "inference", inference["kestrel_extraction"], inference["bare_forward"]))
        if BARE_TRAIN in train and KESTREL_TRAIN in train:
            ratios.append(
                _ratio(
                    name, "training", train[KESTREL_TRAIN]["examples_per_sec"], train[BARE_TRAIN]["examples_per_sec"]
                )
            )
    return {
        "benchmark": "compute",
        "config": dataclasses.asdict(cfg),
        "peak": {"flops_per_sec": peak, "runs": child["peaks"]},
        "flops": {name: figures["flops"] for name, figures in child["models"].items()},
        "inference_seconds": {name: figures["inference"] for name, figures in child["models"].items()},
        "training_runs": training_runs,
        "rows": rows,
        "ratios": ratios,
        "load_average_inference_child_end": child["load_average"],
        "flop_count_method": "tf.compat.v1.profiler float_operation on concrete-function graphs "
        "(training: the whole step's graph, gradients and optimizer included); analytic Conv/Dense cross-check",
    }


def _row(model: str, kind: str, label: str, key: str, rate: float, flops_per_example: float, peak: float) -> dict:
    flops_per_sec = rate * flops_per_example
    return {
        "model": model,
        "kind": kind,
        "what": label,
        "key": key,
        "examples_per_sec": rate,
        "flops_per_sec": flops_per_sec,
        "fraction_of_peak": flops_per_sec / peak,
    }


def _ratio(model: str, kind: str, kestrel: float, bare: float) -> dict:
    ratio = kestrel / bare
    return {
        "model": model,
        "kind": kind,
        "kestrel_over_bare": ratio,
        "met": ratio >= TARGET_RATIO[kind],
        "target": TARGET_RATIO[kind],
    }


def format_table(result: dict) -> str:
    peak = result["peak"]
    runs = ", ".join(f"{p['flops_per_sec'] / 1e9:,.1f}" for p in peak["runs"])
    lines = [
        f"fp32 peak: {peak['flops_per_sec'] / 1e9:,.1f} GFLOP/s ({peak['runs'][0]['size']}x{peak['runs'][0]['size']} "
        f"matmul, best of start and end: {runs})",
    ]
    for name, f in result["flops"].items():
        lines.append(
            f"{name}: {f['inference_per_example'] / 1e9:,.3f} GFLOP per example inference ({f['inference_pass']}; "
            f"analytic Conv/Dense {f['inference_per_example_analytic'] / 1e9:,.3f}), "
            f"{f['training_per_example'] / 1e9:,.3f} training ({f['training_over_inference']:.2f}x)"
        )
    header = f"{'model':<13} {'kind':<10} {'what':<52} {'ex/sec':>9} {'GFLOP/s':>9} {'of peak':>8}"
    lines += [header, "-" * len(header)]
    for r in result["rows"]:
        lines.append(
            f"{r['model']:<13} {r['kind']:<10} {r['what']:<52} {r['examples_per_sec']:>9,.1f} "
            f"{r['flops_per_sec'] / 1e9:>9,.1f} {r['fraction_of_peak']:>8.1%}"
        )
    for r in result["ratios"]:
        ok = "met" if r["met"] else "MISSED"
        lines.append(
            f"{r['model']} {r['kind']}: kestrel / bare = {r['kestrel_over_bare']:.2f} (>= {r['target']}: {ok})"
        )
    return "\n".join(lines)


def plot(result: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.4))
    names = [f"{r['model']} {r['kind']}: {r['what']}" for r in rows]
    colors = ["C0" if r["kind"] == "inference" else "C1" for r in rows]
    ax.barh(names, [r["fraction_of_peak"] for r in rows], color=colors)
    ax.axvline(1.0, color="k", linewidth=0.8)
    ax.invert_yaxis()
    ax.set_xlabel(f"fraction of the fp32 matmul peak ({result['peak']['flops_per_sec'] / 1e9:,.0f} GFLOP/s)")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    child_main(sys.argv)
