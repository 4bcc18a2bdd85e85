"""The whole suite in one go: every benchmark in its own child process, then the targets and peak memory.

Order: training throughput (it prepares digits), start-up, input pipeline, bottleneck
transfer, distribution overhead, TFDV statistics. Each benchmark prints its table and
writes its JSON (and PNG) under ``out_dir/<name>/``; the suite writes ``suite.json``
(machine, every result, the targets) and ``memory.png`` (peak RSS per benchmark).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable

from benchmarks import (
    compute,
    distribution_overhead,
    input_pipeline,
    reporting,
    retrain_cycle,
    startup,
    training_throughput,
    transfer,
    validation_stats,
)
from common.progress import run_counter

BENCHMARKS = (
    "training_throughput",
    "startup",
    "input_pipeline",
    "transfer",
    "compute",
    "distribution",
    "validation",
    "retrain_cycle",
)


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much each benchmark does: ``FULL`` for the figures in docs/benchmarks.md, ``QUICK`` for the smoke test."""

    throughput: dict  # model -> (batch, warmup steps, timed steps, image size)
    throughput_models: tuple[str, ...]
    throughput_strategies: tuple[str, ...]
    throughput_repeats: int
    startup_runs: int
    startup_train_steps: int
    images: int
    image_size: int
    pipeline_repeats: int
    transfer_image_size: int
    transfer_train_split: str
    transfer_eval_split: str
    transfer_epochs: int
    transfer_pretrain_steps: int
    compute: dict  # benchmarks.compute.Config fields besides out_dir and data_dir
    distribution_batches: tuple[int, ...]
    distribution_steps: int
    validation_rows: int
    validation_shards: int
    retrain_train_steps: int


FULL = Sizes(
    throughput={"small_cnn": (64, 100, 1000, None), "mobilenet_v2": (32, 10, 100, 96)},
    throughput_models=training_throughput.MODELS,
    throughput_strategies=training_throughput.STRATEGIES,
    throughput_repeats=2,
    startup_runs=3,
    startup_train_steps=300,
    images=2000,
    image_size=224,
    pipeline_repeats=3,
    transfer_image_size=64,  # the base is pretrained at its own size first; at 160 that alone takes ~12 min
    transfer_train_split="train[:25%]",
    transfer_eval_split="test",
    transfer_epochs=3,
    transfer_pretrain_steps=100,
    compute={"train_steps": 3, "forward_batches": 3},
    distribution_batches=(64, 512),
    distribution_steps=200,
    validation_rows=200_000,
    validation_shards=8,
    retrain_train_steps=150,
)
QUICK = Sizes(
    throughput={"small_cnn": (32, 3, 10, None), "mobilenet_v2": (8, 1, 3, 32)},
    throughput_models=("small_cnn",),
    throughput_strategies=("default",),
    throughput_repeats=1,
    startup_runs=2,  # the first validates, the second recalls the verdict
    startup_train_steps=5,
    images=64,
    image_size=32,
    pipeline_repeats=1,
    transfer_image_size=32,
    transfer_train_split="train[:64]",
    transfer_eval_split="test[:32]",
    transfer_epochs=2,
    transfer_pretrain_steps=3,
    compute={
        "image_size": 32,
        "batch_size": 4,
        "matmul_size": 256,
        "matmul_repeats": 2,
        "forward_batches": 2,
        "train_warmup_steps": 1,
        "train_steps": 2,
        "repeats": 1,
    },
    distribution_batches=(32,),
    distribution_steps=10,
    validation_rows=2000,
    validation_shards=2,
    retrain_train_steps=60,  # enough to pass the bless floor (0.5) on 8x8 digits
)


@dataclasses.dataclass(frozen=True)
class SuiteConfig:
    out_dir: str
    data_dir: str | None = None  # TFDS data_dir; default: out_dir/tfds (digits prepares itself there)
    sizes: Sizes = FULL
    benchmarks: tuple[str, ...] = BENCHMARKS
    command: str = ""

    @property
    def tfds_dir(self) -> str:
        return self.data_dir or os.path.join(self.out_dir, "tfds")


def run(cfg: SuiteConfig, say: Callable[[str], None] = print) -> dict:
    unknown = set(cfg.benchmarks) - set(BENCHMARKS)
    if unknown:
        raise ValueError(f"unknown benchmarks {sorted(unknown)}; allowed: {', '.join(BENCHMARKS)}")
    os.makedirs(cfg.out_dir, exist_ok=True)
    record: dict = {"command": cfg.command, "machine_at_start": reporting.machine(), "results": {}}
    started = time.perf_counter()
    selected = [b for b in BENCHMARKS if b in cfg.benchmarks]
    counter = run_counter(len(selected), say, what="benchmark", unit="benchmarks")
    for done, name in enumerate(selected, 1):
        say(f"\n=== {name} ===")
        began = time.perf_counter()
        result, table = _RUNNERS[name](cfg, reporting.indented(say))
        result["load_average_at_end"] = round(os.getloadavg()[0], 2)
        reporting.write_json(result, os.path.join(cfg.out_dir, name, "result.json"))
        record["results"][name] = result
        say(table)
        counter.update(done, f"{name}: {time.perf_counter() - began:.0f} s, load average {os.getloadavg()[0]:.2f}")
    record["seconds"] = time.perf_counter() - started
    record["machine_at_end"] = reporting.machine()
    record["targets"] = targets(record["results"])
    record["peak_memory_mb"] = peak_memory(record["results"])
    say("\n=== targets ===")
    say(format_targets(record["targets"]))
    say("\n=== peak resident memory (child process and its children) ===")
    say(format_memory(record["peak_memory_mb"]))
    record["files"] = {
        "json": reporting.write_json(record, os.path.join(cfg.out_dir, "suite.json")),
        "memory_png": os.path.join(cfg.out_dir, "memory.png"),
    }
    plot_memory(record["peak_memory_mb"], record["files"]["memory_png"])
    reporting.write_json(record, record["files"]["json"])
    say(f"\nwrote {record['files']['json']} and memory.png")
    return record


# --- one runner per benchmark: (result dict, table) ----------------------------------------------


def _training_throughput(cfg: SuiteConfig, echo) -> tuple[dict, str]:
    s = cfg.sizes
    plan = training_throughput.Plan(
        data_dir=cfg.tfds_dir,
        models=s.throughput_models,
        strategies=s.throughput_strategies,
        repeats=s.throughput_repeats,
        sizes=s.throughput,
    )
    results = training_throughput.run(plan, progress=echo)
    out = os.path.join(cfg.out_dir, "training_throughput")
    os.makedirs(out, exist_ok=True)
    png = os.path.join(out, "throughput.png")
    training_throughput.plot(results, png)
    result = {
        "benchmark": "training_throughput",
        "runs": [dataclasses.asdict(r) for r in results],
        "targets": training_throughput.targets(results),
        "peak_rss_mb": max(r.peak_rss_mb for r in results),
        "files": {"png": png},
    }
    return result, training_throughput.format_table(results)


def _startup(cfg: SuiteConfig) -> startup.Config:
    s = cfg.sizes
    return startup.Config(cfg.tfds_dir, runs=s.startup_runs, train_steps=s.startup_train_steps)


def _on_tfds(cfg: SuiteConfig, name: str) -> dict[str, str]:
    """The folders of a benchmark that reads the suite's TFDS datasets: its own out_dir, the shared data_dir."""
    return {"out_dir": os.path.join(cfg.out_dir, name), "data_dir": cfg.tfds_dir}


def _input_pipeline(cfg: SuiteConfig) -> input_pipeline.Config:
    s = cfg.sizes
    return input_pipeline.Config(
        out_dir=os.path.join(cfg.out_dir, "input_pipeline"),
        image_dir=os.path.join(cfg.out_dir, f"images-{s.images}"),
        images=s.images,
        image_size=s.image_size,
        repeats=s.pipeline_repeats,
    )


def _transfer(cfg: SuiteConfig) -> transfer.Config:
    s = cfg.sizes
    return transfer.Config(
        **_on_tfds(cfg, "transfer"),
        image_size=s.transfer_image_size,
        epochs=s.transfer_epochs,
        train_split=s.transfer_train_split,
        eval_split=s.transfer_eval_split,
        pretrain_steps=s.transfer_pretrain_steps,
    )


def _compute(cfg: SuiteConfig) -> compute.Config:
    return compute.Config(**_on_tfds(cfg, "compute"), **cfg.sizes.compute)


def _retrain_cycle(cfg: SuiteConfig) -> retrain_cycle.Config:
    return retrain_cycle.Config(
        out_dir=os.path.join(cfg.out_dir, "retrain_cycle"), train_steps=cfg.sizes.retrain_train_steps
    )


def _distribution(cfg: SuiteConfig) -> distribution_overhead.Config:
    s = cfg.sizes
    return distribution_overhead.Config(
        **_on_tfds(cfg, "distribution"),
        batch_sizes=s.distribution_batches,
        steps=s.distribution_steps,
        warmup_steps=max(1, s.distribution_steps // 7),
    )


def _validation(cfg: SuiteConfig) -> validation_stats.Config:
    s = cfg.sizes
    out_dir = os.path.join(cfg.out_dir, "validation")
    return validation_stats.Config(out_dir=out_dir, rows=s.validation_rows, shards=s.validation_shards)


def _runner(
    module, make_config: Callable[[SuiteConfig], object]
) -> Callable[[SuiteConfig, Callable], tuple[dict, str]]:
    """A benchmark whose module runs ``run(config, echo)`` and ``format_table(result)``."""

    def run(cfg: SuiteConfig, echo) -> tuple[dict, str]:
        result = module.run(make_config(cfg), echo)
        return result, module.format_table(result)

    return run


_RUNNERS = {
    "training_throughput": _training_throughput,
    "startup": _runner(startup, _startup),
    "input_pipeline": _runner(input_pipeline, _input_pipeline),
    "transfer": _runner(transfer, _transfer),
    "compute": _runner(compute, _compute),
    "distribution": _runner(distribution_overhead, _distribution),
    "validation": _runner(validation_stats, _validation),
    "retrain_cycle": _runner(retrain_cycle, _retrain_cycle),
}


# --- targets and memory --------------------------------------------------------------------------


def targets(results: dict) -> list[dict]:
    """The suite's targets, each with its figure and met/missed (only for benchmarks that ran)."""
    rows = []
    for row in results.get("training_throughput", {}).get("targets", []):
        where = f"{row['model']}, {row['strategy']}"
        if "estimator_vs_keras" in row:
            rows.append(_target(f"estimator >= 0.95x keras ({where})", row["estimator_vs_keras"], "x", row))
        for engine in ("estimator", "keras"):
            key = f"tf_function_over_{engine}"
            if key in row:
                rows.append(
                    _target(
                        f"{engine} within 1.2x of tf.function ({where})",
                        row[key],
                        "x",
                        row,
                        f"{engine}_within_1_2x_met",
                    )
                )
        if "input_wait_fraction" in row:
            rows.append(
                _target(f"input wait < 5% of step ({where})", row["input_wait_fraction"], "%", row, "input_wait_met")
            )
    if "transfer" in results:
        r = results["transfer"]
        rows.append(
            _row(
                f"bottleneck cache end to end over {r['epochs']} epochs, first included (reported)",
                r["speedup_end_to_end"],
                "x",
                r["speedup_end_to_end"] > 1,
            )
        )
        rows.append(
            _row(
                "bottleneck accuracy within 0.5 points",
                r["accuracy_difference_points"],
                "points",
                r["target"]["accuracy_met"],
            )
        )
        rows.append(
            _row(
                "bottleneck accuracy on a pretrained base >= 5x chance",
                r["accuracy_cache"],
                "acc",
                r["target"]["accuracy_above_chance_met"],
            )
        )
    for r in results.get("compute", {}).get("ratios", []):
        rows.append(
            _row(
                f"kestrel {r['kind']} >= {r['target']}x bare tf.function ({r['model']})",
                r["kestrel_over_bare"],
                "x",
                r["met"],
            )
        )
    rows += memory_targets(results)
    if "startup" in results:
        r = results["startup"]
        rows.append(
            _row(
                f"first training step within {startup.TARGET_SECONDS:.0f} s of launch (gate recalled)",
                r["first_step_seconds_best"] or float("nan"),
                "s",
                r["target_met"],
            )
        )
    rows += input_targets(results.get("input_pipeline", {}).get("target") or {})
    rows += validation_targets(results.get("validation", {}).get("target") or {})
    return rows


# (key in dataset_benchmark's target check, the target's wording, unit): first epoch, first batch included.
INPUT_TARGETS = (
    ("tuned_vs_ceiling", "tuned input >= 90% of the decode+resize ceiling (1st epoch)", "%"),
    ("tuned_vs_keras_layers", "tuned input >= 5x image_dataset_from_directory + layers", "x"),
    ("tuned_vs_keras_generator", "tuned input >= 10x ImageDataGenerator", "x"),
)


def input_targets(check: dict) -> list[dict]:
    """One row per input target whose variants ran."""
    return [_row(name, check[key], unit, check[f"{key}_met"]) for key, name, unit in INPUT_TARGETS if check.get(key)]


def validation_targets(target: dict) -> list[dict]:
    """TFDV statistics: 2 workers >= 1.6x the rows/sec of 1, at no more peak memory (absent unless both ran)."""
    if not target:
        return []
    return [
        _row(
            "TFDV 2 workers >= 1.6x 1 worker (statistics pass)",
            target["speedup_2_over_1_pass"],
            "x",
            target["speedup_met"],
        ),
        _row("TFDV 2 workers' peak memory <= 1 worker's", target["peak_memory_2_over_1"], "x", target["memory_met"]),
    ]


MEMORY_RATIO = 1.2  # a benchmark's peak RSS over the bare loop's doing the same work


def memory_targets(results: dict) -> list[dict]:
    """Each engine's peak resident memory over the plain tf.function loop's, same model, data and strategy."""
    runs = [dict(r) for r in results.get("training_throughput", {}).get("runs", [])]
    runs += [dict(r, strategy="default") for r in results.get("compute", {}).get("training_runs", [])]
    bare = {(r["model"], r["strategy"]): r["peak_rss_mb"] for r in runs if r["engine"] == "tf_function"}
    rows = []
    for r in runs:
        base = bare.get((r["model"], r["strategy"]))
        if r["engine"] != "tf_function" and base:
            ratio = r["peak_rss_mb"] / base
            name = f"peak memory within {MEMORY_RATIO}x of the bare loop ({r['model']}, {r['strategy']}, {r['engine']})"
            rows.append(_row(name, ratio, "x", ratio <= MEMORY_RATIO))
    return rows


def _target(name: str, figure: float, unit: str, row: dict, met_key: str = "estimator_vs_keras_met") -> dict:
    return _row(name, figure, unit, bool(row[met_key]))


def _row(name: str, figure: float, unit: str, met: bool) -> dict:
    return {"target": name, "figure": figure, "unit": unit, "met": met}


def format_targets(rows: list[dict]) -> str:
    lines = []
    for row in rows:
        figure = f"{row['figure']:.1%}" if row["unit"] == "%" else f"{row['figure']:,.2f} {row['unit']}"
        lines.append(f"{'met   ' if row['met'] else 'MISSED'}  {row['target']:<62} {figure:>12}")
    return "\n".join(lines)


def peak_memory(results: dict) -> dict[str, float]:
    """Peak RSS (MB) of each benchmark's child process tree; each training-throughput run apart."""
    peaks = {}
    for name, result in results.items():
        if name == "training_throughput":
            for r in result["runs"]:
                peaks[f"training {r['model']} {r['strategy']} {r['engine']}"] = r["peak_rss_mb"]
        elif name == "compute":
            peaks["compute inference"] = result["peak_rss_mb_inference_child"]
            for r in result["training_runs"]:
                peaks[f"compute training {r['model']} {r['engine']}"] = r["peak_rss_mb"]
        else:
            peaks[name] = result["peak_rss_mb"]
    return peaks


def format_memory(peaks: dict[str, float]) -> str:
    return "\n".join(f"{name:<48} {mb:>8,.0f} MB" for name, mb in peaks.items())


def plot_memory(peaks: dict[str, float], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.35 * len(peaks) + 1.2))
    names = list(peaks)
    ax.barh(names, [peaks[n] for n in names])
    ax.invert_yaxis()
    ax.set_xlabel("peak RSS, MB (process and its children)")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
