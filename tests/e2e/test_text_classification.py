"""Text classification through the front door: the embedded review corpus, both engines, the gate, the report
against a bag-of-words baseline, the raw-string export through scripts.predict --texts and scripts.serve.

Three runs are shared by the module: the 1-D convolution on the estimator engine with the
gate, the bidirectional LSTM and the transformer on the Keras engine. The corpus's class is carried by
negated sentiment words ("not dull"), so a bag of words scores about 0.62 and a model that
reads word order must beat it by a margin.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from serving_client import MODEL, Server, model_args, model_base
from support import finished_run, latest_export, one_error_line, run_script, train_refused

pytestmark = pytest.mark.medium

TEXT = ("--task=text_classification", "--source=text_folder", "--batch_size=32", "--eval_throttle_secs=0")
# run -> (engine, model, steps, learning rate): each model family the corpus is asked to teach.
RUNS = {
    "estimator": ("estimator", "text_conv1d", "200", "0.005"),
    "keras": ("keras", "text_bilstm", "300", "0.01"),
    "transformer": ("keras", "text_transformer", "300", "0.01"),
}
MARGIN = 0.15  # over the baseline's accuracy: word order must be read, not only the words


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("text_data")


@pytest.fixture(scope="module")
def text_runs(corpus_dir, tmp_path_factory):
    """run -> (model_dir, completed scripts.train), on the embedded corpus (the gate on, as by default)."""
    runs = {}
    for name, (engine, model, steps, rate) in RUNS.items():
        model_dir = tmp_path_factory.mktemp(f"text_{name}")
        args = [*TEXT, f"--engine={engine}", f"--model={model}", f"--train_steps={steps}", f"--learning_rate={rate}"]
        run = run_script("scripts.train", *args, f"--data_dir={corpus_dir}", f"--model_dir={model_dir}")
        runs[name] = (model_dir, run)
    return runs


@pytest.mark.parametrize("name", list(RUNS))
def test_each_model_beats_the_bag_of_words_baseline(text_runs, name):
    model_dir, run, report = finished_run(text_runs, name)
    assert report["split"].startswith("test") and report["examples"] == 500
    assert 0.5 < report["baseline_accuracy"] < 0.75, report  # words alone say little here
    assert report["accuracy"] > report["baseline_accuracy"] + MARGIN, report
    line = f"accuracy {report['accuracy']:.4f} over 500 examples (baseline {report['baseline_accuracy']:.4f}"
    assert line in run.stdout
    assert "negative" in run.stdout and "positive" in run.stdout  # the per-class table
    confusion = report["evaluation"]["confusion"]
    assert sum(map(sum, confusion)) == 500 and len(confusion) == 2
    for name in ("confusion_matrix.png", "curves.png", "report.html"):
        assert (model_dir / "report" / name).stat().st_size > 1000, name
    assert "TF-IDF + logistic regression" in (model_dir / "report" / "report.html").read_text()


def test_the_gate_gives_text_token_statistics(text_runs):
    """TFDV's statistics of the training texts: tokens (the vocabulary), their count per text, the OOV rate."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    model_dir, run = text_runs["estimator"]
    assert "gate                 2000 examples clean" in run.stdout, run.stdout[-2000:]
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    stats.ParseFromString(next((model_dir / "validation").rglob("statistics.pb")).read_bytes())
    features = {f.path.step[0]: f for f in stats.datasets[0].features}
    tokens = features["tokens"].string_stats
    assert tokens.top_values[0].value == "the" and 60 < tokens.unique < 120, tokens.unique
    assert 20 < features["token_count"].num_stats.mean < 60
    assert features["oov_rate"].num_stats.max == 0.0  # the corpus's vocabulary fits the tokeniser's
    # The vocabulary becomes the schema's domain of tokens: drift and new tokens are measured against it.
    assert 'string_domain {\n  name: "tokens"' in (model_dir / "validation" / "schema.pbtxt").read_text()


def test_predict_texts_gives_the_reports_accuracy_on_raw_strings(text_runs, corpus_dir, tmp_path):
    """Every test review, one per line, through each engine's export: the classes printed score the report's."""
    test_root = next(corpus_dir.glob("text/*/test"))
    texts, classes = [], []
    for path in sorted(test_root.glob("*/*.txt")):
        texts.append(path.read_text().strip())
        classes.append(path.parent.name)
    (tmp_path / "reviews.txt").write_text("\n".join(texts) + "\n")
    for engine in ("estimator", "keras"):
        model_dir, _ = text_runs[engine]
        out = run_script(
            "scripts.predict", f"--export_dir={latest_export(model_dir)}", f"--texts={tmp_path / 'reviews.txt'}"
        )
        assert out.returncode == 0, out.stderr[-2000:]
        rows = out.stdout.strip().splitlines()[1:]
        assert len(rows) == len(texts)
        predicted = [row.split()[1] for row in rows]
        accuracy = sum(p == c for p, c in zip(predicted, classes, strict=True)) / len(texts)
        report = json.loads((model_dir / "report" / "report.json").read_text())
        assert accuracy == pytest.approx(report["accuracy"], abs=1e-9), engine


def test_serve_answers_raw_strings_over_rest(text_runs, tmp_path):
    model_dir, _ = text_runs["keras"]
    base = model_base(latest_export(model_dir), tmp_path)
    review = "the plot was not dull. the acting was superb. the cast was brilliant."
    with Server(base, model_args(base), tmp_path / "stderr.log") as server:
        code, answer = server.post(f"/v1/models/{MODEL}:predict", {"instances": [review]})
    assert code == 200, answer
    assert answer["predictions"][0]["class_names"] == "positive", answer


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


GOOD = {"neg/a.txt": b"the plot was dull.\n", "pos/b.txt": b"the plot was superb.\n", "pos/c.txt": b"superb.\n"}


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ({"neg/empty.txt": b""}, ("empty.txt' holds no text",)),
        ({"neg/latin1.txt": b"fine\ncaf\xe9 was dull\n"}, ("latin1.txt' line 2", "byte 0xe9 is not UTF-8")),
        ({"pos/notes.csv": b"a,b\n"}, ("notes.csv' is not a .txt file",)),
    ],
    ids=["empty", "not-utf8", "not-txt"],
)
def test_a_bad_text_file_is_one_line_naming_it(tmp_path, bad, words):
    root = _tree(tmp_path / "texts", {**GOOD, **bad})
    line = train_refused(tmp_path, tmp_path, *TEXT, "--model=text_conv1d", f"--text_dir={root}")
    assert "--text_dir" in line and all(word in line for word in words), line


def test_predict_texts_refuses_an_empty_line(text_runs, tmp_path):
    path = tmp_path / "two.txt"
    path.write_text("the plot was superb.\n\nthe plot was dull.\n")
    out = run_script("scripts.predict", f"--export_dir={latest_export(text_runs['keras'][0])}", f"--texts={path}")
    one_error_line(out, "--texts", "two.txt' line 2", "empty")


def test_tflite_is_refused_before_training(tmp_path):
    line = train_refused(tmp_path, tmp_path, *TEXT, "--model=text_conv1d", f"--tflite_output_file={tmp_path}/m.tflite")
    assert "--tflite_output_file" in line and "raw strings" in line, line
