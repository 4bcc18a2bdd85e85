"""The gate's recall on unchanged data: the content key with its digest memo, against a full hash and the stat key.

For 2,000 JPEGs (4 class folders) and a 200,000-row CSV, written here: the gate runs once
for real (TFDV on Beam, in memory) and its verdict is remembered; then the recall step of
``pipeline.data_gate.check`` (fingerprint, key, lookup, restore of the span's artifacts) is
timed ``repeats`` times each way, in one run:

- stat key (old): the path, size and mtime fingerprint the content key replaced;
- full hash: every file's bytes read and hashed (the content key without its memo);
- memo hit (now): the content key, each file's digest taken from the memo (no file read;
  checked after the timing by counting reads).

The stat key and the memo hit are interleaved, the full hash timed after them; medians reported.

Page cache warm (the files were just written and read), as on a second launch over the same data.

    python -m benchmarks.gate_recall <out_dir> [repeats]
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import multiprocessing
import os
import statistics
import sys
import time

from common.params import DataParams, GateParams, Hparams, OutputParams
from common.progress import run_counter
from input_fns.sources import SourceMeta
from pipeline import data_gate, digest_memo, gate_cache


@dataclasses.dataclass(frozen=True)
class Config:
    out_dir: str
    images: int = 2000
    rows: int = 200_000
    repeats: int = 7


def write_images(root: str, count: int) -> str:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(count):
        folder = os.path.join(root, f"class{i % 4}")
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (96, 96, 3), np.uint8)).save(os.path.join(folder, f"{i}.jpg"), quality=90)
    return root


def write_csv(path: str, rows: int) -> str:
    import numpy as np

    values = np.random.default_rng(0).normal(size=(rows, 8))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(",".join(f"f{j}" for j in range(8)) + ",label\n")
        for i, row in enumerate(values):
            f.write(",".join(f"{v:.6f}" for v in row) + f",{i % 3}\n")
    return path


def stat_fingerprint(files: tuple[str, ...]) -> str | None:
    """The fingerprint before content hashing: path, size and mtime of every file (TFX's)."""
    digest = hashlib.sha256()
    for path in files:
        names = [path] if os.path.isfile(path) else sorted(os.path.join(d, n) for d, _, ns in os.walk(path) for n in ns)
        for name in names:
            stat = os.stat(name)
            digest.update(f"f:{name},size:{stat.st_size},mtime:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:32]


def _hparams(cfg: Config, name: str, source: str, **data) -> Hparams:
    return Hparams(
        data=DataParams(source=source, **data),
        output=OutputParams(model_dir=os.path.join(cfg.out_dir, name, "model")),
        gate=GateParams(validate=True, cache_dir=os.path.join(cfg.out_dir, name, "cache")),
    )


_CONTENT_KEY = gate_cache.data_fingerprint  # the real one: the timing loop swaps the module's attribute


def _stat_key(files, memo_dir="", warn=print):
    return stat_fingerprint(files)


def _full_hash(files, memo_dir="", warn=print):
    return _CONTENT_KEY(files)


ORDER = (("stat key (old)", "memo hit (now)"), ("memo hit (now)", "stat key (old)"))


def _settle(hp: Hparams, meta: SourceMeta) -> None:
    """The memo written, and its entries older than the racy window: the state of a later launch."""
    ctimes = [st.st_ctime_ns for _, problem, st in gate_cache._entries(meta.train_files[0]) if not problem]
    time.sleep(max(0.0, (max(ctimes) + digest_memo.RACY_NS) / 1e9 - time.time() + 0.1))
    _CONTENT_KEY(meta.train_files, hp.gate.cache_dir)


def _reads_on_recall(hp: Hparams, meta: SourceMeta) -> int:
    """How many files the memo recall reads (0 when every entry hits)."""
    reads = []
    real = gate_cache.content_digest
    gate_cache.content_digest = lambda path: reads.append(path) or real(path)
    try:
        _CONTENT_KEY(meta.train_files, hp.gate.cache_dir)
    finally:
        gate_cache.content_digest = real
    return len(reads)


def _recall_seconds(hp: Hparams, meta: SourceMeta, fingerprint) -> float:
    real = gate_cache.data_fingerprint
    gate_cache.data_fingerprint = fingerprint
    try:
        out = io.StringIO()
        start = time.perf_counter()
        data_gate.check(hp.data, hp.gate, hp.output.model_dir, meta, out)
        seconds = time.perf_counter() - start
    finally:
        gate_cache.data_fingerprint = real
    assert "unchanged since validated" in out.getvalue(), out.getvalue()
    return seconds


def _fresh(hp: Hparams, name: str) -> Hparams:
    """``hp`` with a model_dir of its own: a recall is a new run (a fresh model_dir) over the same data."""
    model_dir = os.path.join(os.path.dirname(hp.output.model_dir), name)
    return dataclasses.replace(hp, output=dataclasses.replace(hp.output, model_dir=model_dir))


def _validate(hp: Hparams, meta: SourceMeta) -> None:
    data_gate.check(hp.data, hp.gate, hp.output.model_dir, meta, io.StringIO())


def _validate_in_child(hp: Hparams, meta: SourceMeta) -> None:
    """The real validation, in a child: the recalls are then timed in a process that has not run TFDV and Beam.

    A recall happens in a later launch, whose heap holds no finished Beam pipeline; one run in this
    process made every cyclic garbage collection during the timed recalls scan it.
    """
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        pool.apply(_validate, (hp, meta))


def measure(cfg: Config, name: str, hp: Hparams, meta: SourceMeta, say) -> dict:
    say(f"{name}: validating once for real (TFDV), then remembering")
    _validate_in_child(hp, meta)
    (stored,) = [n for n in os.listdir(hp.gate.cache_dir) if os.path.isdir(os.path.join(hp.gate.cache_dir, n))]
    # The same entry under the stat key as well, so both recalls restore the same artifacts.
    settings = data_gate._settings(data_gate.gate_config(hp.data, hp.gate, hp.output.model_dir, meta))
    unused = os.path.join(cfg.out_dir, name, "none")
    _copy_entry(hp.gate.cache_dir, stored, gate_cache.cache_key(stat_fingerprint(meta.train_files), unused, settings))
    _settle(hp, meta)
    keys = {"stat key (old)": _stat_key, "full hash": _full_hash, "memo hit (now)": _CONTENT_KEY}
    recalls: dict[str, list[float]] = {label: [] for label in keys}
    fingerprints: dict[str, list[float]] = {label: [] for label in keys}
    counter = run_counter(cfg.repeats * len(keys), say, what=f"{name} recall")
    # The two cheap keys interleaved, first one then the other (a load that drifts during the run
    # weighs on both alike), the full hash after them: its reads of every byte would otherwise
    # leave the next recall a colder CPU cache.
    rounds = [(label, i) for i in range(cfg.repeats) for label in ORDER[i % 2]] + [
        ("full hash", i) for i in range(cfg.repeats)
    ]
    for done, (label, i) in enumerate(rounds, 1):
        recalls[label].append(_recall_seconds(_fresh(hp, f"recall-{list(keys).index(label)}-{i}"), meta, keys[label]))
        start = time.perf_counter()
        keys[label](meta.train_files, hp.gate.cache_dir, print)
        fingerprints[label].append(time.perf_counter() - start)
        counter.update(done)
    figures = {
        label: {
            "recall_ms": round(statistics.median(recalls[label]) * 1000, 2),
            "fingerprint_ms": round(statistics.median(fingerprints[label]) * 1000, 2),
        }
        for label in keys
    }
    reads = _reads_on_recall(hp, meta)
    assert reads == 0, f"the memo recall read {reads} files"
    return figures


def _copy_entry(cache_dir: str, source_key: str, key: str) -> None:
    import shutil

    target = os.path.join(cache_dir, key)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(os.path.join(cache_dir, source_key), target)
    entry = os.path.join(target, gate_cache.ENTRY_FILE)
    with open(entry) as f:
        recorded = json.load(f)
    with open(entry, "w") as f:
        json.dump({**recorded, "key": key}, f)


def run(cfg: Config, say=print) -> dict:
    images = write_images(os.path.join(cfg.out_dir, "data", "images"), cfg.images)
    csv_path = write_csv(os.path.join(cfg.out_dir, "data", "csv", "rows.csv"), cfg.rows)
    meta_images = SourceMeta("images", "images", ("class0",), {}, {}, train_files=(images,), gate_format="images")
    meta_csv = SourceMeta("csv", "features", ("0",), {}, {}, train_files=(csv_path,), gate_format="csv")
    result = {
        f"{cfg.images} images": measure(
            cfg, "images", _hparams(cfg, "images", "image_folder", image_dir=images), meta_images, say
        ),
        f"{cfg.rows} CSV rows": measure(cfg, "csv", _hparams(cfg, "csv", "csv", train_files=csv_path), meta_csv, say),
    }
    with open(os.path.join(cfg.out_dir, "gate_recall.json"), "w") as f:
        json.dump(result, f, indent=2)
    return result


def format_table(result: dict) -> str:
    header = f"{'data':<18} {'key':<18} {'fingerprint ms':>15} {'recall ms':>10} {'vs stat key':>12}"
    lines = [header, "-" * len(header)]
    for data, by_key in result.items():
        base = by_key["stat key (old)"]["recall_ms"]
        for key, figures in by_key.items():
            ratio = figures["recall_ms"] / base if base else float("nan")
            lines.append(
                f"{data:<18} {key:<18} {figures['fingerprint_ms']:>15.2f} {figures['recall_ms']:>10.2f} {ratio:>11.2f}x"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    out = run(Config(out_dir=sys.argv[1], repeats=int(sys.argv[2]) if len(sys.argv) > 2 else 7))
    print(format_table(out))
