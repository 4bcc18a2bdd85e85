"""Benchmark the bottleneck cache: head training on a frozen base, with and without cached features.

python -m scripts.bottleneck_benchmark --model=vgg16 --image_size=64 --epochs=3 --pretrain_steps=100 \
  --learning_rate=0.003 --l2=0 --dropout=0 --out_dir=runs/bottleneck_benchmark

Both runs train the same head (same initial weights, same seed, same batch
order) for the same number of epochs on the digits (or another TFDS) train
split and evaluate on the test split. Without the cache every epoch pushes
every image through the frozen base; with it, epoch 1 computes the train
features once (and saves them) and later epochs read them; the evaluation
computes the test features. Reported: seconds per epoch, the total over all
the epochs (the first included) and its speed-up, the mean per epoch after the
first (labelled so), and the accuracy both ways. ``--pretrain_steps`` first
trains the whole backbone on the train split and uses its base (saved as a
local weights file) so the features carry signal without network. Prints a
table, writes benchmark.json and a per-epoch PNG to --out_dir.

The library of that command (scripts/bottleneck_benchmark.py holds its flags): ``run(Config)``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

from common.progress import ProgressLine, run_counter


@dataclasses.dataclass(frozen=True)
class Config:
    """What the command's flags ask for (scripts/bottleneck_benchmark.py defines them and their meaning)."""

    out_dir: str
    model: str = "vgg16"
    weights: str = "none"
    dataset: str = "digits"
    data_dir: str | None = None
    train_split: str = "train"
    eval_split: str = "test"
    image_size: int = 160
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-3
    dropout: float = 0.5
    l2: float = 0.01
    pretrain_steps: int = 0
    pretrain_image_size: int | None = None
    pretrain_learning_rate: float = 1e-4
    seed: int = 42


def run(cfg: Config) -> None:
    """Both runs, then the table, benchmark.json and the PNG in ``cfg.out_dir``."""
    import numpy as np
    import tensorflow as tf

    from estimators.models import MODELS, build_model
    from estimators.models.spec import ModelSpec
    from estimators.stages import bottleneck
    from estimators.tasks.base import collect_inputs
    from input_fns import pipeline_ops, tfds_source
    from input_fns.preprocessing import ImageSpec
    from pipeline.filesystem import ensure_writable_dir

    ensure_writable_dir(cfg.out_dir, "out_dir")
    builder = tfds_source.load_builder(cfg.dataset, cfg.data_dir)
    meta = tfds_source.dataset_meta(builder)
    image = ImageSpec(cfg.image_size, cfg.image_size, 3, MODELS[cfg.model].preprocessing)
    weights, pretraining = cfg.weights, None
    if cfg.pretrain_steps:
        weights, pretraining = _pretrain_base(cfg, builder, meta.num_classes)
    spec = ModelSpec(
        image=image,
        num_classes=meta.num_classes,
        learning_rate=cfg.learning_rate,
        dropout=cfg.dropout,
        l2=cfg.l2,
        weights=weights,
    )
    tf.keras.utils.set_random_seed(cfg.seed)
    model = build_model(cfg.model, spec)
    extractor = bottleneck.feature_extractor(model)
    width = int(extractor.output_shape[-1])
    head = bottleneck.head_model(width, spec)
    initial_head = head.get_weights()

    def images(split: str):
        return tfds_source.input_fn(
            builder,
            split,
            pipeline_ops.InputRequest(pipeline_ops.EVALUATE, cfg.batch_size, "image", image),
            cache=False,
        )

    # Both runs see the examples in the same order: one seeded permutation per epoch.
    train_size = meta.split_sizes.get(cfg.train_split) or sum(1 for _ in images(cfg.train_split)().unbatch())
    orders = [np.random.default_rng(cfg.seed + e).permutation(train_size) for e in range(cfg.epochs)]

    # --- without the cache: every epoch runs the base on every image --------------------------------
    # The decoded images are kept in memory (as ds.cache() would), so only the base's work differs.
    train_images, train_labels = collect_inputs(images(cfg.train_split), "image")
    eval_images, eval_labels = collect_inputs(images(cfg.eval_split), "image")
    head.set_weights(initial_head)
    tf.keras.utils.set_random_seed(cfg.seed)
    full = tf.keras.Model(extractor.inputs, head(extractor.outputs[0]), name="full")
    full.compile(
        optimizer=head.optimizer.__class__(learning_rate=cfg.learning_rate), loss=head.loss, metrics=["accuracy"]
    )
    uncached = []
    counter = run_counter(cfg.epochs, what="no cache: epoch", unit="epochs")
    for order in orders:
        started = time.perf_counter()
        full.fit(
            {"image": train_images[order]}, train_labels[order], batch_size=cfg.batch_size, shuffle=False, verbose=0
        )
        uncached.append(time.perf_counter() - started)
        counter.update(len(uncached), f"{uncached[-1]:.1f} s")
    started = time.perf_counter()
    uncached_acc = full.evaluate({"image": eval_images}, eval_labels, batch_size=cfg.batch_size, verbose=0)[1]
    evaluate_uncached = time.perf_counter() - started

    # --- with the cache: features once (and saved), then the head alone ------------------------------
    cache_dir = os.path.join(cfg.out_dir, "cache")
    for name in tf.io.gfile.glob(os.path.join(cache_dir, "*.npz")):
        tf.io.gfile.remove(name)  # measure the first epoch cold
    head.set_weights(initial_head)
    tf.keras.utils.set_random_seed(cfg.seed)
    head.compile(
        optimizer=head.optimizer.__class__(learning_rate=cfg.learning_rate), loss=head.loss, metrics=["accuracy"]
    )
    cached = []
    counter = run_counter(cfg.epochs, what="cache: epoch", unit="epochs")  # epoch 1 extracts the features
    paths = {
        s: os.path.join(
            cache_dir,
            f"{cfg.model}-{cfg.image_size}-{s.replace('[', '_').replace(']', '').replace(':', '-').replace('%', 'pct')}.npz",
        )
        for s in (cfg.train_split, cfg.eval_split)
    }
    for order in orders:
        started = time.perf_counter()
        # Epoch 1 computes and saves the train features; later epochs read them back from the file.
        train_x, train_y, _, _ = bottleneck.cached_features(
            extractor, images(cfg.train_split), "image", paths[cfg.train_split]
        )
        head.fit(
            {bottleneck.FEATURES_NAME: train_x[order]},
            train_y[order],
            batch_size=cfg.batch_size,
            shuffle=False,
            verbose=0,
        )
        cached.append(time.perf_counter() - started)
        counter.update(len(cached), f"{cached[-1]:.2f} s")
    # Evaluation pays for the test features, as the run without the cache pays for its test pass.
    started = time.perf_counter()
    eval_x, eval_y, _, _ = bottleneck.cached_features(extractor, images(cfg.eval_split), "image", paths[cfg.eval_split])
    cached_acc = head.evaluate({bottleneck.FEATURES_NAME: eval_x}, eval_y, batch_size=cfg.batch_size, verbose=0)[1]
    evaluate_cached = time.perf_counter() - started

    result = {
        "model": cfg.model,
        "weights": cfg.weights,
        "pretraining": pretraining,
        "image_size": cfg.image_size,
        "dataset": meta.name,
        "train_examples": int(train_size),
        "eval_examples": int(len(eval_labels)),
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "seconds_per_epoch_no_cache": uncached,
        "seconds_per_epoch_cache": cached,
        **bottleneck.end_to_end(uncached, cached, evaluate_uncached, evaluate_cached),
        "accuracy_no_cache": float(uncached_acc),
        "accuracy_cache": float(cached_acc),
        "accuracy_difference_points": 100 * abs(float(uncached_acc) - float(cached_acc)),
        "chance_accuracy": 1.0 / meta.num_classes,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    with open(os.path.join(cfg.out_dir, "benchmark.json"), "w") as f:
        json.dump(result, f, indent=2)
    _plot(uncached, cached, os.path.join(cfg.out_dir, "benchmark.png"))
    print()
    print(bottleneck.figures_table(result))
    print(f"wrote {cfg.out_dir}/benchmark.json and benchmark.png")


def _pretrain_base(cfg: Config, builder, num_classes: int) -> tuple[str, dict]:
    """Train the whole backbone with a softmax top on the train split; save the base alone as a weights file.

    Without network there are no ImageNet weights, and a random base's features give a chance-level head in
    a few epochs. A base trained on the data first has features that carry signal; the weights file has the
    layout of Keras's include_top=False weights, so it goes in as --weights would. Convolution weights do
    not depend on the input size, so the pretraining runs at a small size to stay short.
    """
    import tensorflow as tf

    from estimators.models import MODELS, build_model
    from estimators.models.spec import ModelSpec
    from estimators.models.transfer import POOL_NAME
    from input_fns import pipeline_ops, tfds_source
    from input_fns.preprocessing import ImageSpec

    size = cfg.pretrain_image_size or cfg.image_size
    image = ImageSpec(size, size, 3, MODELS[cfg.model].preprocessing)
    spec = ModelSpec(
        image=image,
        num_classes=num_classes,
        learning_rate=cfg.pretrain_learning_rate,
        dropout=0.0,
        l2=0.0,
        weights=cfg.weights,
        trainable_base=True,
    )
    tf.keras.utils.set_random_seed(cfg.seed)
    model = build_model(cfg.model, spec)

    def split(name: str, mode: str):
        return tfds_source.input_fn(
            builder, name, pipeline_ops.InputRequest(mode, cfg.batch_size, "image", image), seed=cfg.seed
        )()

    counter = ProgressLine(cfg.pretrain_steps, cfg.batch_size, every=25, what="pretraining the base: step")
    counter.update(0)
    started = time.perf_counter()
    model.fit(
        split(cfg.train_split, pipeline_ops.FIT),
        steps_per_epoch=cfg.pretrain_steps,
        epochs=1,
        verbose=0,
        callbacks=[tf.keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, _: counter.update(b + 1))],
    )
    seconds = time.perf_counter() - started
    accuracy = float(model.evaluate(split(cfg.eval_split, pipeline_ops.EVALUATE), verbose=0)[1])
    base = tf.keras.Model(model.inputs, model.get_layer(POOL_NAME).input, name=f"{cfg.model}_base")
    path = os.path.join(cfg.out_dir, "pretrained_base.h5")
    base.save_weights(path)
    record = {
        "steps": cfg.pretrain_steps,
        "image_size": size,
        "split": cfg.train_split,
        "learning_rate": cfg.pretrain_learning_rate,
        "seconds": seconds,
        "accuracy": accuracy,
        "weights_file": path,
    }
    return path, record


def _plot(uncached: list[float], cached: list[float], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = range(1, len(uncached) + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar([e - 0.2 for e in epochs], uncached, width=0.4, label="no cache")
    ax.bar([e + 0.2 for e in epochs], cached, width=0.4, label="bottleneck cache")
    ax.set_xlabel("epoch")
    ax.set_ylabel("seconds")
    ax.set_yscale("log")
    ax.set_xticks(list(epochs))
    ax.legend()
    ax.set_title("Head training on a frozen base, seconds per epoch")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
