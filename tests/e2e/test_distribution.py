"""Distribution: real runs of ``python -m scripts.train`` under each strategy, and seeded determinism.

TF_CONFIG and the strategy factory are unit-tested in tests/unit/estimators/distribute/.

Each run is the command a user or a cluster launcher starts, one process per
TF_CONFIG task: mirrored over two logical CPU devices (both engines),
one_device, multi-worker mirrored with two workers (both engines), parameter
server with chief, worker, ps (and an evaluator for the Estimator), and
TPUEstimator with --nouse_tpu. Cluster processes listen on free ports of
127.0.0.1 and are killed at the end of each test, whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from support import REPO_ROOT, free_ports, run_script, tf_config

from common.errors import UsageError
from estimators.engines import seeding

pytestmark = pytest.mark.large

STEPS = 20
PS_STEPS = 60  # Estimator starts its workers 5 s late: enough steps that the worker trains too
DIGITS_TEST = 360  # examples in digits' test split, the report's
TASK_TIMEOUT = 180  # seconds; a run takes 15-30 s here, a hang must not take the suite with it
CLUSTER_TIMEOUT = 300


# --- seeds ----------------------------------------------------------------------------------------


def test_seed_and_op_determinism_give_identical_numbers():
    code = (
        "import numpy as np, random, tensorflow as tf\n"
        "from estimators.engines import seeding\n"
        "seeding.set_seeds(5, deterministic_ops=True)\n"
        "x = tf.random.normal([64, 64]); y = tf.reduce_sum(tf.matmul(x, x))\n"
        "print(repr((random.random(), float(np.random.rand()), float(y))))\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        for _ in range(2)
    ]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr[-2000:]
    assert runs[0].stdout == runs[1].stdout and runs[0].stdout.strip()
    with pytest.raises(UsageError, match="--deterministic_ops: op determinism needs a --seed"):
        seeding.set_seeds(None, deterministic_ops=True)


# --- real runs: every one drives `python -m scripts.train`, as a user (or a cluster launcher) does -------


def train_args(data_dir: str, model_dir: Path, *extra: str) -> list[str]:
    """The small run every test here makes: digits, small_cnn, few steps, no TFDV gate."""
    return [
        "--dataset=digits",
        f"--data_dir={data_dir}",
        "--model=small_cnn",
        f"--model_dir={model_dir}",
        "--novalidate_data",
        f"--train_steps={STEPS}",
        "--batch_size=32",
        "--save_checkpoints_steps=10",
        "--save_summary_steps=5",
        "--eval_throttle_secs=0",
        "--progress_every_steps=1000",
        "--seed=7",
        *extra,
    ]


def start_task(args: list[str], log: Path, tf_config_value: str | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    if tf_config_value:
        env["TF_CONFIG"] = tf_config_value
    return subprocess.Popen(
        [sys.executable, "-m", "scripts.train", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: nothing it starts outlives the test
    )


@contextlib.contextmanager
def processes():
    """Processes started inside are killed (whole group) when the block ends, whatever happens."""
    started: list[subprocess.Popen] = []
    try:
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
            proc.wait(timeout=30)


def run_cluster(tmp_path: Path, jobs: dict, tasks: list[tuple[str, int]], args: list[str]) -> dict[str, str]:
    """Start one `scripts.train` per task with its TF_CONFIG; wait for all; every one must exit 0."""
    procs, logs = {}, {}
    with processes() as started:
        for task_type, index in tasks:
            name = f"{task_type}{index}"
            logs[name] = tmp_path / f"{name}.log"
            procs[name] = start_task(args, logs[name], tf_config(jobs, task_type, index))
            started.append(procs[name])
        deadline = time.monotonic() + CLUSTER_TIMEOUT
        for name, proc in procs.items():
            try:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"{name} did not finish in {CLUSTER_TIMEOUT}s; log tail:\n{logs[name].read_text()[-3000:]}")
    outputs = {name: log.read_text() for name, log in logs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{outputs[name][-3000:]}"
    return outputs


def summary_value(output: str, label: str) -> str:
    """A value of the chief's printed summary (pipeline.train.RunSummary.format)."""
    match = re.search(rf"^{label}\s+(\S+)", output, re.MULTILINE)
    assert match, f"no '{label}' line in the summary:\n{output[-3000:]}"
    return match.group(1)


def assert_chief_finished(output: str, model_dir: Path, min_step: int, cluster: bool = False) -> None:
    assert 0.0 <= float(summary_value(output, "test accuracy")) <= 1.0
    assert int(summary_value(output, "global step")) >= min_step
    export = Path(summary_value(output, "export"))
    assert export.parent == model_dir / "export" / "serving" and (export / "saved_model.pb").is_file()
    if cluster:  # exported once, by the chief (one process exports at each evaluation)
        assert len(list((model_dir / "export" / "serving").iterdir())) == 1
    assert (model_dir / "report" / "report.json").is_file()
    # The report's prediction pass shows its progress, whatever the engine, up to every test example.
    done = re.findall(r"^predicting test (\d+)/(\d+) \(100%\)  [\d,.]+ examples/(?:sec|min)  time left ", output, re.M)
    assert done == [(str(DIGITS_TEST), str(DIGITS_TEST))], output[-3000:]


def assert_report_page(model_dir: Path) -> None:
    """report/: learning curves read back from the run's event files, and a page showing them offline."""
    report_dir = model_dir / "report"
    series = json.loads((report_dir / "curves.json").read_text())["series"]
    for metric in ("loss", "accuracy"):
        train, validation = series["train"][metric], series["validation"][metric]
        assert len(train) >= 2 and len(validation) >= 1, (metric, series)
        assert max(step for step, _ in validation) == STEPS, validation
    assert (report_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (report_dir / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 2 and "http" not in page


def assert_task_finished(output: str, task: str) -> None:
    assert f"task {task} finished training" in output, output[-3000:]


def local_jobs(**counts: int) -> dict[str, list[str]]:
    ports = iter(free_ports(sum(counts.values())))
    return {job: [f"127.0.0.1:{next(ports)}" for _ in range(n)] for job, n in counts.items()}


def report_json(model_dir: Path) -> dict:
    return json.loads((model_dir / "report" / "report.json").read_text())


def test_keras_mirrored_on_two_logical_cpus_reports_every_example(tfds_data_dir, tmp_path):
    """Model.fit mirrored over two CPU devices, with the report on: one prediction per test example."""
    model_dir = tmp_path / "model"
    run = run_script(
        "scripts.train",
        *train_args(tfds_data_dir, model_dir, "--engine=keras", "--strategy=mirrored", "--logical_cpu_devices=2"),
        timeout=TASK_TIMEOUT,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert_chief_finished(run.stdout, model_dir, STEPS)
    report = report_json(model_dir)
    # 360 test examples = 11 batches of 32 and one of 8 (4 per replica, or 8 and none): nothing padded or dropped.
    assert report["examples"] == DIGITS_TEST == int(np.sum(report["confusion"]))


@pytest.mark.parametrize(
    "engine,strategy",
    [
        # A model_to_estimator Estimator with a Keras metric, mirrored over two CPU devices: no hang.
        ("estimator", ("--strategy=mirrored", "--logical_cpu_devices=2")),
        ("estimator", ("--strategy=one_device",)),
        ("keras", ("--strategy=one_device",)),
    ],
    ids=["estimator-mirrored", "estimator-one_device", "keras-one_device"],
)
def test_one_machine_strategies(engine, strategy, tfds_data_dir, tmp_path):
    model_dir = tmp_path / "model"
    args = train_args(tfds_data_dir, model_dir, f"--engine={engine}", *strategy)
    run = run_script("scripts.train", *args, timeout=TASK_TIMEOUT)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert_chief_finished(run.stdout, model_dir, STEPS)
    assert report_json(model_dir)["examples"] == DIGITS_TEST
    assert_report_page(model_dir)


@pytest.mark.parametrize("engine", ["estimator", "keras"])
def test_multi_worker_mirrored_two_workers(engine, tfds_data_dir, tmp_path):
    jobs = local_jobs(worker=2)
    model_dir = tmp_path / "model"
    args = train_args(tfds_data_dir, model_dir, f"--engine={engine}", "--strategy=multi_worker_mirrored")
    out = run_cluster(tmp_path, jobs, [("worker", 0), ("worker", 1)], args)
    assert_chief_finished(out["worker0"], model_dir, STEPS, cluster=True)  # worker 0 leads without a chief job
    assert int(summary_value(out["worker0"], "global step")) == STEPS  # synchronous: exactly max_steps
    assert_task_finished(out["worker1"], "worker:1")
    if engine == "keras":  # a worker saves its checkpoints to scratch, then deletes it
        assert not [p for p in model_dir.iterdir() if p.name.startswith("tmp_")]


def test_estimator_parameter_server_chief_worker_ps_evaluator(tfds_data_dir, tmp_path):
    jobs = local_jobs(chief=1, worker=1, ps=1)
    model_dir = tmp_path / "model"
    # Enough steps that the worker (Estimator starts workers 5 s late) can train too.
    args = train_args(tfds_data_dir, model_dir, "--strategy=parameter_server", f"--train_steps={PS_STEPS}")
    tasks = [("ps", 0), ("chief", 0), ("worker", 0), ("evaluator", 0)]
    out = run_cluster(tmp_path, jobs, tasks, args)
    assert_chief_finished(out["chief0"], model_dir, PS_STEPS, cluster=True)
    assert_task_finished(out["worker0"], "worker:0")
    assert_task_finished(out["ps0"], "ps:0")  # it served until the chief was done, then returned
    assert_task_finished(out["evaluator0"], "evaluator:0")
    assert list((model_dir / "eval").iterdir()), "the evaluator wrote no evaluation summaries"


def test_keras_parameter_server_chief_worker_ps(tfds_data_dir, tmp_path):
    import tensorflow as tf

    jobs = local_jobs(chief=1, worker=1, ps=1)
    model_dir = tmp_path / "model"
    args = train_args(tfds_data_dir, model_dir, "--engine=keras", "--strategy=parameter_server")
    out = run_cluster(tmp_path, jobs, [("ps", 0), ("worker", 0), ("chief", 0)], args)
    assert_chief_finished(out["chief0"], model_dir, STEPS, cluster=True)
    assert int(summary_value(out["chief0"], "global step")) == STEPS
    assert_task_finished(out["worker0"], "worker:0")
    assert_task_finished(out["ps0"], "ps:0")
    assert tf.train.latest_checkpoint(str(model_dir)).endswith(f"-{STEPS}")  # the chief saved the last step
    assert report_json(model_dir)["examples"] == DIGITS_TEST


def test_tpu_estimator_on_cpu_trains_evaluates_exports(tfds_data_dir, tmp_path):
    import tensorflow as tf

    model_dir = tmp_path / "model"
    tpu_args = ["--strategy=tpu", "--engine=tpu_estimator", "--nouse_tpu", "--iterations_per_loop=10"]
    run = run_script(
        "scripts.train",
        *train_args(tfds_data_dir, model_dir, *tpu_args, "--optimizer=sgd", "--lr_schedule=cosine"),
        timeout=TASK_TIMEOUT,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert_chief_finished(run.stdout, model_dir, STEPS)
    assert summary_value(run.stdout, "engine") == "tpu_estimator"
    assert report_json(model_dir)["examples"] == DIGITS_TEST
    assert_report_page(model_dir)
    # --optimizer=sgd reached the model_fn: momentum slots, no Adam slots or beta powers.
    names = [name for name, _ in tf.train.list_variables(tf.train.latest_checkpoint(str(model_dir)))]
    assert any(name.endswith("/Momentum") for name in names), names
    assert not [name for name in names if "Adam" in name or "beta1_power" in name]

    # The export serves encoded image bytes, like the other engines' exports.
    loaded = tf.saved_model.load(summary_value(run.stdout, "export"))
    images = tf.zeros([3, 8, 8, 1], tf.uint8)
    out = loaded.signatures["serving_default"](image_bytes=tf.stack([tf.io.encode_png(i) for i in images]))
    assert out["probabilities"].shape == (3, 10)


def train_summary_steps(model_dir: Path, tag: str) -> list[int]:
    """The steps at which the training run (model_dir's own event files) recorded ``tag``."""
    import tensorflow as tf

    steps = []
    for path in sorted(model_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            steps += [event.step for value in event.summary.value if value.tag == tag]
    return sorted(steps)


def test_keras_tpu_stand_in_runs_loops_of_iterations_per_loop(tfds_data_dir, tmp_path):
    """--strategy=tpu --nouse_tpu: the Keras engine (the default for tpu) with steps_per_execution, exports, reports."""
    model_dir = tmp_path / "model"
    tpu_args = ["--strategy=tpu", "--nouse_tpu", "--iterations_per_loop=5", "--save_summary_steps=1"]
    run = run_script("scripts.train", *train_args(tfds_data_dir, model_dir, *tpu_args), timeout=TASK_TIMEOUT)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert_chief_finished(run.stdout, model_dir, STEPS)
    assert int(summary_value(run.stdout, "global step")) == STEPS
    assert summary_value(run.stdout, "engine") == "keras"
    assert report_json(model_dir)["examples"] == DIGITS_TEST
    # Summaries every step, but the host sees the model once per loop of 5 steps (steps_per_execution).
    assert train_summary_steps(model_dir, "loss") == [5, 10, 15, 20]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--strategy=tpu", "--engine=estimator"], "--strategy: tpu trains with --engine=keras (TPUStrategy) or"),
        (["--strategy=tpu", "--tpu=local"], "--tpu: no TPU on this machine: --tpu=local needs a Cloud TPU VM"),
        (["--strategy=tpu", "--tpu=local", "--engine=tpu_estimator"], "--tpu: no TPU on this machine"),
        (["--strategy=tpu", "--nouse_tpu", "--num_shards=8"], "--num_shards: a TPUStrategy replicates over every"),
        (["--strategy=mirrored", "--engine=tpu_estimator"], "--strategy: tpu_estimator runs --strategy=tpu"),
        (["--strategy=tpu", "--engine=tpu_estimator", "--nouse_tpu", "--fine_tune_steps=10"], "--fine_tune_steps"),
    ],
)
def test_strategy_an_engine_cannot_run_is_one_usage_line(args, message, tfds_data_dir, tmp_path):
    run = run_script("scripts.train", *train_args(tfds_data_dir, tmp_path / "model", *args), timeout=TASK_TIMEOUT)
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-3000:]
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr[-3000:]
    assert not (tmp_path / "model").exists()  # refused before anything was written
