"""The text_folder source: every file read and checked, validation carved off with a seed, the vocabulary adapted
on the training role only; and the embedded corpus's stated signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from common.errors import UsageError
from common.params import TEST, TEXT, TRAIN, VALIDATION, DataParams
from input_fns import pipeline_ops, review_corpus, text_source
from input_fns.pipeline_ops import DEFAULT_OPTIONS, InputRequest

pytestmark = pytest.mark.medium


def _tree(root: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return str(root)


def test_the_vocabulary_comes_from_the_training_role_only(tmp_path):
    train = {f"neg/{i}.txt": f"common dull n{i}" for i in range(10)}
    train |= {f"pos/{i}.txt": f"common superb p{i}" for i in range(10)}
    root = _tree(tmp_path / "train", train)
    test = _tree(tmp_path / "test", {"neg/t.txt": "testonly dull", "pos/t.txt": "testonly superb"})
    data = DataParams(source="text_folder", task="text_classification", text_dir=root, test_dir=test, val_fraction=0.2)
    meta, factory = text_source.open(data, 3, DEFAULT_OPTIONS)
    assert meta.kind == TEXT and meta.class_names == ("neg", "pos") and meta.gate_format == "texts"
    assert meta.split_sizes == {TRAIN: 16, VALIDATION: 4, TEST: 2}
    assert meta.vocabulary[0] == "common" and "testonly" not in meta.vocabulary
    features, labels = next(iter(factory(VALIDATION, InputRequest(pipeline_ops.EVALUATE, 8))()))
    held_out = {t.decode().split()[-1] for t in features[text_source.TEXT_INPUT].numpy()}
    assert len(held_out) == 4 and not held_out & set(meta.vocabulary)  # the carved texts' own words are not in it
    again, _ = text_source.open(data, 3, DEFAULT_OPTIONS)
    assert again.vocabulary == meta.vocabulary  # the carve is seeded


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"synthetic": True}, "^--synthetic_data: not for --source=text_folder"),
        ({"val_dir": "VAL"}, "^--val_dir: '.*' has classes a, b, c; the training data has neg, pos"),
        ({"text_dir": "NOPE"}, "^--text_dir: '.*' is not a directory"),
        ({"text_key": "text"}, "^--text_key: not for --source=text_folder"),
    ],
)
def test_misfits_are_one_usage_error(tmp_path, data, message):
    root = _tree(tmp_path / "train", {"neg/a.txt": "dull", "pos/b.txt": "superb"})
    val = _tree(tmp_path / "val", {"a/a.txt": "x", "b/b.txt": "y", "c/c.txt": "z"})
    given = {k: {"VAL": val, "NOPE": str(tmp_path / "nope")}.get(v, v) for k, v in data.items()}
    params = DataParams(source="text_folder", task="text_classification", **({"text_dir": root} | given))
    with pytest.raises(UsageError, match=message):
        text_source.open(params, 0, DEFAULT_OPTIONS)


def test_the_corpus_carries_its_class_in_word_order():
    """A bag of words scores about 0.62 on it; word pairs (which see "not superb") score above 0.9."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(review_corpus.SEED)
    train, test = review_corpus.reviews(2000, rng), review_corpus.reviews(500, rng)
    scores = {}
    for ngrams in ((1, 1), (1, 2)):
        vectorizer = TfidfVectorizer(ngram_range=ngrams)
        model = LogisticRegression(max_iter=1000, C=10).fit(
            vectorizer.fit_transform([t for t, _ in train]), [y for _, y in train]
        )
        scores[ngrams] = model.score(vectorizer.transform([t for t, _ in test]), [y for _, y in test])
    assert 0.55 < scores[(1, 1)] < 0.72 and scores[(1, 2)] > 0.9, scores


def test_the_corpus_is_written_once_as_class_folders(tmp_path):
    base = Path(review_corpus.write_corpus(str(tmp_path)))
    counts = {split: len(list((base / split).glob("*/*.txt"))) for split in ("train", "test")}
    assert counts == {"train": review_corpus.TRAIN_REVIEWS, "test": review_corpus.TEST_REVIEWS}
    first = (base / "train" / "negative").iterdir().__next__()
    stamp = first.stat().st_mtime_ns
    assert review_corpus.write_corpus(str(tmp_path)) == str(base) and first.stat().st_mtime_ns == stamp
