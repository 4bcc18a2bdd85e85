"""The embedded text corpus: generated film reviews, positive or negative, written once as class folders.

Nothing kestrel installs ships a labelled text corpus (CPython's pydoc topics are
unlabelled), and IMDB cannot be downloaded here. So kestrel generates one, seeded,
with a stated signal:

- every review is filler sentences (shared by both classes) around three opinions;
- an opinion is a sentiment word, positive ("superb") or negative ("dull"), and 30% of
  opinions are negated ("not superb"), which flips them;
- the review's class is the majority of its three opinions, after negation;
- 5% of the labels are flipped (label noise), so no model reaches 100%;
- filler sentences use "not" too ("it was not raining"), so counting "not" says little.

A bag of words sees which sentiment words occur and how many "not"s, but not which
word each "not" negates: it scores about 63% (TF-IDF + logistic regression). A model that reads word order
("not" next to "superb") can reach the 95% the label noise leaves.
The files go to ``<root>/train/<class>/*.txt`` and ``<root>/test/<class>/*.txt``,
as ``text_dataset_from_directory`` reads them.
"""

from __future__ import annotations

import os

import numpy as np

CLASSES = ("negative", "positive")
TRAIN_REVIEWS, TEST_REVIEWS = 2000, 500
SEED = 2024
LABEL_NOISE = 0.05
OPINIONS = 3
NEGATION = 0.3  # the chance an opinion is negated
NAME = f"reviews_v1_seed{SEED}"

POSITIVE = ("superb", "moving", "brilliant", "charming", "gripping", "delightful", "clever", "wonderful")
NEGATIVE = ("dull", "clumsy", "tedious", "boring", "shallow", "awful", "predictable", "bland")
SUBJECTS = ("the acting", "the plot", "the script", "the ending", "the music", "the direction", "the cast")
FILLER = (
    "i saw it on a rainy sunday with my sister",
    "the cinema was not full that evening",
    "it runs a little over two hours",
    "we bought popcorn and sat near the back",
    "it was not raining when we left",
    "the film is based on a novel from the seventies",
    "my friend had not seen the trailer",
    "the story takes place in a small coastal town",
    "there is a long scene on a train",
    "i went in knowing nothing about it",
    "the director made two films before this one",
    "it is not the first film about this town",
)


def _opinion(rng: np.random.Generator) -> tuple[str, int]:
    """One sentence with a sentiment word, maybe negated; and its polarity after negation (+1 or -1)."""
    positive = bool(rng.integers(2))
    negated = bool(rng.random() < NEGATION)
    word = str(rng.choice(POSITIVE if positive else NEGATIVE))
    subject = str(rng.choice(SUBJECTS))
    sentence = f"{subject} was {'not ' if negated else ''}{word}"
    return sentence, (1 if positive else -1) * (-1 if negated else 1)


def review(rng: np.random.Generator) -> tuple[str, int]:
    """A review and its class id (0 negative, 1 positive), before label noise."""
    opinions = [_opinion(rng) for _ in range(OPINIONS)]
    filler = [str(s) for s in rng.choice(FILLER, size=int(rng.integers(2, 5)), replace=False)]
    sentences = [sentence for sentence, _ in opinions] + filler
    rng.shuffle(sentences)
    label = int(sum(polarity for _, polarity in opinions) > 0)
    return ". ".join(sentences) + ".", label


def reviews(count: int, rng: np.random.Generator) -> list[tuple[str, int]]:
    """``count`` reviews with their labels, LABEL_NOISE of them flipped."""
    out = []
    for _ in range(count):
        text, label = review(rng)
        if rng.random() < LABEL_NOISE:
            label = 1 - label
        out.append((text, label))
    return out


def write_corpus(root: str) -> str:
    """``<root>/<NAME>/{train,test}/<class>/<n>.txt``, written once (a finished corpus has a marker file)."""
    base = os.path.join(root, NAME)
    done = os.path.join(base, ".complete")
    if os.path.exists(done):
        return base
    rng = np.random.default_rng(SEED)
    for split, count in (("train", TRAIN_REVIEWS), ("test", TEST_REVIEWS)):
        for name in CLASSES:
            os.makedirs(os.path.join(base, split, name), exist_ok=True)
        for i, (text, label) in enumerate(reviews(count, rng)):
            with open(os.path.join(base, split, CLASSES[label], f"{i:05d}.txt"), "w", encoding="utf-8") as f:
                f.write(text + "\n")
    with open(done, "w") as f:
        f.write("ok\n")
    return base


def default_root(data_dir: str | None) -> str:
    """Where the corpus is written: ``<data_dir>/text``, else ``~/.cache/kestrel/text``."""
    if data_dir:
        return os.path.join(data_dir, "text")
    return os.path.join(os.path.expanduser("~"), ".cache", "kestrel", "text")
