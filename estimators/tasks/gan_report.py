"""The GAN's report: a Frechet distance on a kestrel classifier's features, beside its floor and baselines.

The distance (Heusel et al.'s FID, with a classifier trained here instead of Inception, which
cannot be downloaded and does not see 8x8 digits) compares the Gaussian fitted to the features of
the generated images with the one fitted to the training images. Three more sets, as many images
each, give it a scale: real held-out images (the floor: what a perfect generator scores at this
sample size), an untrained generator and uniform noise (the baselines a trained one must beat).
The classifier is trained inside the report on the training images and their labels, so it sees
the run's own data and preprocessing and needs no flag; its accuracy on the held-out images is
printed, a check that its features mean something. ``samples.png`` shows the sets side by side.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.linalg
import tensorflow as tf

from estimators.reports.errors import gain_over_baseline
from estimators.reports.page import Figure, Table, evaluation_summary, png_bytes, pyplot, write_report_page

SAMPLES_PNG = "samples.png"
FIGURE = Figure("samples", SAMPLES_PNG, height=420)
TRAINED, UNTRAINED = 0, 1  # the GAN engines' Result.predictions: [2, n, H, W, C], these two sample sets
GRID = 8  # images per side of each grid in samples.png
CLASSIFIER_EPOCHS = 15
FEATURES = "features"


@dataclasses.dataclass(frozen=True)
class GanReport:
    split: str
    examples: int  # images in each set compared with the training images
    frechet_distance: float  # the trained generator's samples
    real_floor: float  # real held-out images
    untrained_generator: float
    uniform_noise: float
    classifier_accuracy: float  # of the feature classifier on the held-out images
    training_images: int

    def metrics(self) -> dict[str, float]:
        return {"frechet_distance": self.frechet_distance}

    def format(self) -> str:
        gain = gain_over_baseline(self.frechet_distance, self.untrained_generator)
        return "\n".join(
            [
                f"evaluation on '{self.split}': Frechet distance {self.frechet_distance:.4f} over {self.examples} "
                f"generated images (untrained generator {self.untrained_generator:.4f}: {gain:+.0%}; "
                f"uniform noise {self.uniform_noise:.4f}; real held-out images {self.real_floor:.4f}, the floor)",
                f"distances to the {self.training_images} training images, on the features of a classifier trained "
                f"on them here (accuracy {self.classifier_accuracy:.4f} on '{self.split}')",
            ]
        )


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2) between Gaussians fitted to two feature sets."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():  # a singular product (features never active): offset both, as FID does
        offset = np.eye(len(cov_a)) * 1e-6
        root = scipy.linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    root = root.real if np.iscomplexobj(root) else root  # rounding leaves a tiny imaginary part
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root))


def feature_classifier(shape: tuple[int, ...], classes: int, seed: int) -> tf.keras.Model:
    layers = tf.keras.layers
    tf.keras.utils.set_random_seed(seed)
    inputs = tf.keras.Input(shape=shape, name="images")
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="fd_conv1")(inputs)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="fd_conv2")(x)
    x = layers.Flatten(name="fd_flatten")(x)
    x = layers.Dense(64, activation="relu", name=FEATURES)(x)
    outputs = layers.Dense(max(2, classes), activation="softmax", name="fd_classes")(x)
    model = tf.keras.Model(inputs, outputs, name="fd_classifier")
    model.compile(tf.keras.optimizers.legacy.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_report(
    train: tuple[np.ndarray, np.ndarray],
    held_out: tuple[np.ndarray, np.ndarray],
    trained: np.ndarray,
    untrained: np.ndarray,
    classes: int,
    split: str,
    seed: int = 0,
) -> GanReport:
    """Distances of ``held_out`` images, ``trained`` and ``untrained`` samples and noise to the ``train`` images."""
    (train_images, train_labels), (real, real_labels) = train, held_out
    classifier = feature_classifier(train_images.shape[1:], classes, seed)
    classifier.fit(train_images, train_labels, batch_size=64, epochs=CLASSIFIER_EPOCHS, verbose=0, shuffle=True)
    accuracy = float(classifier.evaluate(real, real_labels, verbose=0)[1])
    extract = tf.keras.Model(classifier.input, classifier.get_layer(FEATURES).output)
    n = min(len(real), len(trained))
    noise = np.random.default_rng(seed).uniform(size=(n, *real.shape[1:])).astype(np.float32)
    reference = extract.predict(train_images, verbose=0)

    def distance(images: np.ndarray) -> float:
        return frechet_distance(reference, extract.predict(images[:n], verbose=0))

    return GanReport(
        split=split,
        examples=n,
        frechet_distance=distance(trained),
        real_floor=distance(real),
        untrained_generator=distance(untrained),
        uniform_noise=distance(noise),
        classifier_accuracy=accuracy,
        training_images=len(train_images),
    )


def write_report(report: GanReport, directory: str, real: np.ndarray, trained: np.ndarray, untrained: np.ndarray):
    """report.json and samples.png (real held-out, untrained and trained generator, a grid each)."""
    return FIGURE.write_files(directory, report, samples_png(report, real, trained, untrained))


def grid(images: np.ndarray, side: int = GRID) -> np.ndarray:
    """The first side*side images (fewer: blank cells) tiled into one image [side*H, side*W, C]."""
    count, height, width, channels = images.shape
    cells = np.zeros((side * side, height, width, channels), np.float32)
    cells[: min(count, side * side)] = images[: side * side]
    rows = cells.reshape(side, side, height, width, channels).transpose(0, 2, 1, 3, 4)
    return np.clip(rows.reshape(side * height, side * width, channels), 0.0, 1.0)


def samples_png(report: GanReport, real: np.ndarray, trained: np.ndarray, untrained: np.ndarray) -> bytes:
    plt = pyplot()
    panels = (
        (real, f"real held-out ({report.real_floor:.2f})"),
        (untrained, f"untrained generator ({report.untrained_generator:.2f})"),
        (trained, f"trained generator ({report.frechet_distance:.2f})"),
    )
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.4))
    for ax, (images, title) in zip(axes, panels, strict=True):
        tiled = grid(images)
        ax.imshow(tiled[..., 0] if tiled.shape[-1] == 1 else tiled, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.suptitle(f"{report.split}: Frechet distance to the training images (lower is closer)")
    return png_bytes(fig, dpi=90)


def write_html(report: GanReport, directory: str, title: str) -> str:
    """report.html: the distances, the learning curves and the sample grids."""
    rows = (
        ("trained generator", f"{report.frechet_distance:.4f}"),
        ("real held-out images (floor)", f"{report.real_floor:.4f}"),
        ("untrained generator (baseline)", f"{report.untrained_generator:.4f}"),
        ("uniform noise", f"{report.uniform_noise:.4f}"),
    )
    table = Table("Frechet distance to the training images", ("images", "distance"), rows)
    summary = evaluation_summary(
        report.split,
        f"Frechet distance <b>{report.frechet_distance:.4f}</b> "
        f"(untrained generator {report.untrained_generator:.4f}, real held-out {report.real_floor:.4f}) "
        f"over {report.examples} images",
    )
    return write_report_page(directory, title, summary, FIGURE, table=table)
