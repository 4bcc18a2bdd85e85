"""Benchmark the bottleneck cache: head training on a frozen base, with and without cached features.

python -m scripts.bottleneck_benchmark --model=vgg16 --image_size=160 --epochs=3 --out_dir=runs/bottleneck_benchmark

Both runs train the same head (same initial weights, same seed, same batch
order) for the same number of epochs on the digits (or another TFDS) train
split and evaluate on the test split. Without the cache every epoch pushes
every image through the frozen base; with it, epoch 1 computes the features
once (and saves them) and later epochs read them. Prints a table, writes
benchmark.json and a per-epoch PNG to --out_dir.
"""

from __future__ import annotations

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
import json
import os
import time

from absl import flags

from common.progress import run_counter

flags.DEFINE_enum("model", "vgg16", ["vgg16", "mobilenet_v2", "nasnet_mobile"], "Frozen backbone.")
flags.DEFINE_string("weights", "none", "imagenet, none or a local weights file (as --weights of train.py).")
flags.DEFINE_string("dataset", "digits", "TFDS dataset (prepared in --data_dir; digits prepares itself).")
flags.DEFINE_string("data_dir", None, "TFDS data directory.")
flags.DEFINE_string("train_split", "train", "Split the head trains on.")
flags.DEFINE_string("eval_split", "test", "Split accuracy is measured on.")
flags.DEFINE_integer("image_size", 160, "Square input size.", lower_bound=32)
flags.DEFINE_integer("epochs", 3, "Epochs for each of the two runs.", lower_bound=2)
flags.DEFINE_integer("batch_size", 32, "Batch size.", lower_bound=1)
flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate.", lower_bound=1e-12, upper_bound=10.0)
flags.DEFINE_float("dropout", 0.5, "Head dropout (the notes' recipe: 0.5).", lower_bound=0.0, upper_bound=0.99)
flags.DEFINE_float(
    "l2",
    0.01,
    "L2 on the head's kernel (the notes' recipe: 0.01; use 0 on a random base's tiny features).",
    lower_bound=0.0,
    upper_bound=1e3,
)
flags.DEFINE_integer("seed", 42, "Seed for the head's initial weights and the batch order.")
flags.DEFINE_string("out_dir", "/tmp/kestrel/bottleneck_benchmark", "benchmark.json, the PNG and the feature cache.")
FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    del argv
    import numpy as np
    import tensorflow as tf

    from common.filesystem import ensure_writable_dir
    from estimators.models import MODELS, build_model
    from estimators.models.spec import ModelSpec
    from estimators.stages import bottleneck
    from input_fns import tfds_source
    from input_fns.preprocessing import ImageSpec

    ensure_writable_dir(FLAGS.out_dir, "out_dir")
    builder = tfds_source.load_builder(FLAGS.dataset, FLAGS.data_dir)
    meta = tfds_source.dataset_meta(builder)
    image = ImageSpec(FLAGS.image_size, FLAGS.image_size, 3, MODELS[FLAGS.model].preprocessing)
    spec = ModelSpec(
        image=image,
        num_classes=meta.num_classes,
        learning_rate=FLAGS.learning_rate,
        dropout=FLAGS.dropout,
        l2=FLAGS.l2,
        weights=FLAGS.weights,
    )
    tf.keras.utils.set_random_seed(FLAGS.seed)
    model = build_model(FLAGS.model, spec)
    extractor = bottleneck.feature_extractor(model)
    width = int(extractor.output_shape[-1])
    head = bottleneck.head_model(width, spec)
    initial_head = head.get_weights()

    def images(split: str):
        return tfds_source.make_input_fn(
            builder, split, tfds_source.EVAL, FLAGS.batch_size, "image", image, cache=False
        )

    # Both runs see the examples in the same order: one seeded permutation per epoch.
    train_size = meta.split_sizes.get(FLAGS.train_split) or sum(1 for _ in images(FLAGS.train_split)().unbatch())
    orders = [np.random.default_rng(FLAGS.seed + e).permutation(train_size) for e in range(FLAGS.epochs)]

    # --- without the cache: every epoch runs the base on every image --------------------------------
    # The decoded images are kept in memory (as ds.cache() would), so only the base's work differs.
    train_images, train_labels = _arrays(images(FLAGS.train_split))
    eval_images, eval_labels = _arrays(images(FLAGS.eval_split))
    head.set_weights(initial_head)
    tf.keras.utils.set_random_seed(FLAGS.seed)
    full = tf.keras.Model(extractor.inputs, head(extractor.outputs[0]), name="full")
    full.compile(
        optimizer=head.optimizer.__class__(learning_rate=FLAGS.learning_rate), loss=head.loss, metrics=["accuracy"]
    )
    uncached = []
    counter = run_counter(FLAGS.epochs, what="no cache: epoch", unit="epochs")
    for order in orders:
        started = time.perf_counter()
        full.fit(
            {"image": train_images[order]}, train_labels[order], batch_size=FLAGS.batch_size, shuffle=False, verbose=0
        )
        uncached.append(time.perf_counter() - started)
        counter.update(len(uncached), f"{uncached[-1]:.1f} s")
    uncached_acc = full.evaluate({"image": eval_images}, eval_labels, batch_size=FLAGS.batch_size, verbose=0)[1]

    # --- with the cache: features once (and saved), then the head alone ------------------------------
    cache_dir = os.path.join(FLAGS.out_dir, "cache")
    for name in tf.io.gfile.glob(os.path.join(cache_dir, "*.npz")):
        tf.io.gfile.remove(name)  # measure the first epoch cold
    head.set_weights(initial_head)
    tf.keras.utils.set_random_seed(FLAGS.seed)
    head.compile(
        optimizer=head.optimizer.__class__(learning_rate=FLAGS.learning_rate), loss=head.loss, metrics=["accuracy"]
    )
    cached = []
    counter = run_counter(FLAGS.epochs, what="cache: epoch", unit="epochs")  # epoch 1 extracts the features
    started = time.perf_counter()
    paths = {
        s: os.path.join(
            cache_dir,
            f"{FLAGS.model}-{FLAGS.image_size}-{s.replace('[', '_').replace(']', '').replace(':', '-').replace('%', 'pct')}.npz",
        )
        for s in (FLAGS.train_split, FLAGS.eval_split)
    }
    train_x, train_y, _, _ = bottleneck.cached_features(
        extractor, images(FLAGS.train_split), "image", paths[FLAGS.train_split]
    )
    eval_x, eval_y, _, _ = bottleneck.cached_features(
        extractor, images(FLAGS.eval_split), "image", paths[FLAGS.eval_split]
    )
    for epoch, order in enumerate(orders):
        if epoch:
            started = time.perf_counter()
            train_x, train_y, _, _ = bottleneck.cached_features(extractor, None, "image", paths[FLAGS.train_split])
        head.fit(
            {bottleneck.FEATURES_NAME: train_x[order]},
            train_y[order],
            batch_size=FLAGS.batch_size,
            shuffle=False,
            verbose=0,
        )
        cached.append(time.perf_counter() - started)
        counter.update(len(cached), f"{cached[-1]:.2f} s")
    cached_acc = head.evaluate({bottleneck.FEATURES_NAME: eval_x}, eval_y, batch_size=FLAGS.batch_size, verbose=0)[1]

    later_uncached = float(np.mean(uncached[1:]))
    later_cached = float(np.mean(cached[1:]))
    result = {
        "model": FLAGS.model,
        "weights": FLAGS.weights,
        "image_size": FLAGS.image_size,
        "dataset": meta.name,
        "train_examples": int(train_size),
        "eval_examples": int(len(eval_labels)),
        "epochs": FLAGS.epochs,
        "batch_size": FLAGS.batch_size,
        "seconds_per_epoch_no_cache": uncached,
        "seconds_per_epoch_cache": cached,
        "speedup_after_first_epoch": later_uncached / later_cached,
        "accuracy_no_cache": float(uncached_acc),
        "accuracy_cache": float(cached_acc),
        "accuracy_difference_points": 100 * abs(float(uncached_acc) - float(cached_acc)),
    }
    with open(os.path.join(FLAGS.out_dir, "benchmark.json"), "w") as f:
        json.dump(result, f, indent=2)
    _plot(uncached, cached, os.path.join(FLAGS.out_dir, "benchmark.png"))
    print(f"\n{'':24}{'no cache':>12}{'cache':>12}")
    print(f"{'epoch 1 (s)':24}{uncached[0]:12.1f}{cached[0]:12.1f}")
    print(f"{'later epochs (s, mean)':24}{later_uncached:12.2f}{later_cached:12.3f}")
    print(f"{'test accuracy':24}{uncached_acc:12.4f}{cached_acc:12.4f}")
    print(
        f"speed-up after the first epoch: {result['speedup_after_first_epoch']:,.0f}x; "
        f"accuracy difference {result['accuracy_difference_points']:.2f} points"
    )
    print(f"wrote {FLAGS.out_dir}/benchmark.json and benchmark.png")


def _arrays(input_fn):
    import numpy as np

    xs, ys = [], []
    for features, labels in input_fn():
        xs.append(features["image"].numpy())
        ys.append(labels.numpy())
    return np.concatenate(xs), np.concatenate(ys)


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


if __name__ == "__main__":
    cli.run(main)
