"""The evaluation report of a language model: perplexity beside the unigram and bigram baselines, and samples.

Perplexity is exp of the mean cross-entropy per character of the report role.
The unigram baseline predicts every character with its frequency in the
training text; the bigram baseline with its frequency after the previous
character (add-one smoothed). A model that does not beat the unigram has
learnt nothing beyond letter frequencies; one that beats the bigram uses more
than the last character. The samples are the export's continuations of a
prompt at two temperatures, so they show what a client gets.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from estimators.reports.errors import gain_over_baseline
from estimators.reports.page import Figure, PrintedReport, png_bytes, pyplot

POSITIONS_PNG = "perplexity_by_position.png"
PROMPT = "The "
SAMPLE_LENGTH = 200
TEMPERATURES = (0.5, 1.0)


@dataclasses.dataclass(frozen=True)
class LanguageModelReport:
    split: str
    characters: int
    vocabulary: int
    perplexity: float
    unigram_perplexity: float
    bigram_perplexity: float
    accuracy: float  # the most likely next character is the true one
    by_position: tuple[float, ...]  # perplexity at each step of a sequence: what more context gives
    prompt: str
    samples: dict[str, str]  # temperature -> continuation

    def metrics(self) -> dict[str, float]:
        """The task's metrics as the engines name them (common.tasks): perplexity, and the loss (its log)."""
        return {"perplexity": self.perplexity, "loss": float(np.log(self.perplexity))}

    def format(self) -> str:
        gain = gain_over_baseline(self.perplexity, self.unigram_perplexity)
        lines = [
            f"evaluation on '{self.split}': perplexity {self.perplexity:.3f} over {self.characters} characters "
            f"(unigram baseline {self.unigram_perplexity:.3f}: {gain:+.1%}; bigram {self.bigram_perplexity:.3f})",
            f"next-character accuracy {self.accuracy:.4f}, vocabulary {self.vocabulary} characters",
        ]
        for temperature, text in self.samples.items():
            lines.append(f"sample at temperature {temperature}: {(self.prompt + text)!r}")
        return "\n".join(lines)


def unigram_perplexity(train: np.ndarray, labels: np.ndarray, size: int) -> float:
    counts = np.bincount(train.reshape(-1), minlength=size).astype(np.float64) + 1
    return float(np.exp(-np.mean(np.log(counts / counts.sum())[labels.reshape(-1)])))


def bigram_perplexity(train_labels: np.ndarray, inputs: np.ndarray, labels: np.ndarray, size: int) -> float:
    """Counts of (previous, next) over the training sequences: a label's previous character is its input."""
    previous = np.concatenate([train_labels[:, :-1].reshape(-1)])
    following = train_labels[:, 1:].reshape(-1)
    counts = np.ones((size, size), np.float64)
    np.add.at(counts, (previous, following), 1)
    probabilities = counts / counts.sum(axis=1, keepdims=True)
    return float(np.exp(-np.mean(np.log(probabilities[inputs.reshape(-1), labels.reshape(-1)]))))


def sample(export_dir: str | None) -> dict[str, str]:
    """The export's continuations of PROMPT at each of TEMPERATURES (none without an export)."""
    if not export_dir:
        return {}
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    tf.random.set_seed(0)
    return {
        f"{t:g}": serve(
            prompt=tf.constant([PROMPT]), length=tf.constant([SAMPLE_LENGTH]), temperature=tf.constant([t])
        )["continuation"][0]
        .numpy()
        .decode("utf-8")
        for t in TEMPERATURES
    }


def build_report(
    predictions: np.ndarray,
    inputs: np.ndarray,
    labels: np.ndarray,
    train_labels: np.ndarray,
    size: int,
    samples: dict[str, str],
    split: str,
) -> LanguageModelReport:
    probabilities = np.take_along_axis(predictions, labels[..., None].astype(np.int64), axis=-1)[..., 0]
    entropy = -np.log(np.maximum(probabilities.astype(np.float64), 1e-12))
    return LanguageModelReport(
        split=split,
        characters=int(labels.size),
        vocabulary=size,
        perplexity=float(np.exp(entropy.mean())),
        unigram_perplexity=unigram_perplexity(train_labels, labels, size),
        bigram_perplexity=bigram_perplexity(train_labels, inputs, labels, size),
        accuracy=float(np.mean(np.argmax(predictions, axis=-1) == labels)),
        by_position=tuple(float(v) for v in np.exp(entropy.mean(axis=0))),
        prompt=PROMPT,
        samples=samples,
    )


def positions_png(report: LanguageModelReport) -> bytes:
    """Perplexity at each step of a sequence (more context, lower), the baselines as lines."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.5))
    steps = np.arange(1, len(report.by_position) + 1)
    ax.plot(steps, report.by_position, color="tab:blue", label=f"model ({report.perplexity:.2f} overall)")
    ax.axhline(report.unigram_perplexity, color="tab:red", linestyle="--", label="unigram baseline")
    ax.axhline(report.bigram_perplexity, color="tab:orange", linestyle=":", label="bigram baseline")
    ax.set_xlabel("position in the sequence (characters of context)")
    ax.set_ylabel("perplexity")
    ax.set_title(f"perplexity by position on {report.split.split(':')[0]}")
    ax.legend(loc="upper right")
    return png_bytes(fig)


# report.json and the perplexity-by-position PNG; report.html: perplexity beside the baselines, the samples,
# the curves and the PNG.
WRITER = PrintedReport(Figure("perplexity by position", POSITIONS_PNG, height=420), positions_png)
