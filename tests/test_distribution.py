"""Distribution: TF_CONFIG checks, the strategy factory, and real runs on this machine.

Mirrored over two logical CPU devices, multi-worker mirrored with two worker
processes, parameter server with chief, worker, ps and evaluator processes,
and TPUEstimator with use_tpu=False. Cluster processes listen on free ports
of 127.0.0.1 and are killed at the end of each test, whatever happens.
"""

# bazel: size = "large"

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from common.errors import UsageError
from common.names import ASSETS_EXTRA, EXPORT_DIR, LABELS_FILE, LATEST_EXPORTER, SERVING_KEY
from estimators.distribute import cluster as cluster_lib
from estimators.distribute import strategy as distribution

TASK = Path(__file__).resolve().parent / "cluster_task.py"
PS_STEPS = 1000
TASK_TIMEOUT = 240  # seconds; a run takes 15-50 s here, a hang must not take the suite with it


# --- TF_CONFIG -----------------------------------------------------------------------------------


def tf_config(jobs: dict, task_type: str, index: int = 0) -> str:
    return json.dumps({"cluster": jobs, "task": {"type": task_type, "index": index}})


JOBS = {"chief": ["h0:1000"], "worker": ["h1:1000", "h2:1000"], "ps": ["h3:1000"]}


def test_tf_config_parsed_and_roles():
    chief = cluster_lib.parse_tf_config(tf_config(JOBS, "chief"))
    worker = cluster_lib.parse_tf_config(tf_config(JOBS, "worker", 1))
    assert chief.is_chief and not worker.is_chief
    assert (chief.num_workers, chief.num_ps, worker.address) == (3, 1, "h2:1000")
    only_workers = cluster_lib.parse_tf_config(tf_config({"worker": ["a:1", "b:2"]}, "worker", 0))
    assert only_workers.is_chief  # worker 0 leads when there is no chief job
    evaluator = cluster_lib.parse_tf_config(tf_config(JOBS, "evaluator"))  # outside the cluster, as Estimator has it
    assert evaluator.task_type == "evaluator" and evaluator.address is None
    assert cluster_lib.read_cluster({}) is None
    assert cluster_lib.read_cluster({"TF_CONFIG": json.dumps({"cluster": {}})}) is None
    assert cluster_lib.parse_tf_config(chief.to_json()) == chief


@pytest.mark.parametrize(
    "raw,message",
    [
        ("{not json", "TF_CONFIG is not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (tf_config(JOBS, "master"), "task type 'master' is not in the cluster"),
        (tf_config(JOBS, "worker", 2), "task worker:2 is not in the cluster ('worker' has 2 address(es), indices 0-1)"),
        (tf_config(JOBS, "worker", -1), "is not a non-negative integer"),
        (json.dumps({"cluster": JOBS}), "has a cluster but no task"),
        (tf_config({"gpu": ["h:1"]}, "gpu"), "unknown job 'gpu'"),
        (tf_config({"worker": ["no-port"]}, "worker"), "expected host:port"),
        (tf_config({"worker": []}, "worker"), "must be a non-empty list"),
        (tf_config({"chief": ["a:1", "b:1"]}, "chief"), "exactly one address"),
    ],
)
def test_bad_tf_config_is_one_clear_line(raw, message):
    with pytest.raises(UsageError) as err:
        cluster_lib.parse_tf_config(raw)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_strategies_that_need_a_cluster_say_so():
    workers = cluster_lib.parse_tf_config(tf_config({"worker": ["a:1", "b:2"]}, "worker"))
    with pytest.raises(UsageError, match="parameter_server needs a cluster in TF_CONFIG"):
        cluster_lib.require_cluster("parameter_server", None)
    with pytest.raises(UsageError, match="at least one 'ps' task"):
        cluster_lib.require_cluster("parameter_server", workers)
    with pytest.raises(UsageError, match="multi_worker_mirrored needs a cluster"):
        cluster_lib.require_cluster("multi_worker_mirrored", None)
    with pytest.raises(UsageError, match="takes no 'ps' tasks"):
        cluster_lib.require_cluster("multi_worker_mirrored", cluster_lib.parse_tf_config(tf_config(JOBS, "chief")))
    with pytest.raises(UsageError, match="'mirrored' trains on one machine"):
        cluster_lib.require_cluster("mirrored", workers)
    cluster_lib.require_cluster("parameter_server", cluster_lib.parse_tf_config(tf_config(JOBS, "ps")))


# --- the factory, batch, learning rate, seeds ------------------------------------------------------


def test_factory_choices_and_errors(monkeypatch):
    import tensorflow as tf

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distribution.make_strategy("default") is None
    assert isinstance(distribution.make_strategy("one_device"), tf.distribute.OneDeviceStrategy)
    # The pitfall: never TF's default cross-device ops on CPU; reduce to one device, explicitly.
    ops = distribution.make_cross_device_ops("auto", num_gpus=0)
    assert isinstance(ops, tf.distribute.ReductionToOneDevice)
    mirrored = distribution.make_strategy("mirrored")
    assert isinstance(mirrored.extended._cross_device_ops, tf.distribute.ReductionToOneDevice)  # noqa: SLF001
    assert isinstance(distribution.make_cross_device_ops("nccl", num_gpus=2), tf.distribute.NcclAllReduce)
    assert isinstance(
        distribution.make_cross_device_ops("hierarchical_copy", num_gpus=8), tf.distribute.HierarchicalCopyAllReduce
    )
    ring = tf.distribute.experimental.CommunicationImplementation.RING
    assert distribution.communication_options("ring").implementation == ring

    with pytest.raises(UsageError, match="--strategy: unknown strategy 'horovod'"):
        distribution.make_strategy("horovod")
    with pytest.raises(UsageError, match="--all_reduce_alg: 'nccl' all-reduces between GPUs; set --num_gpus"):
        distribution.make_strategy("mirrored", all_reduce_alg="nccl")
    with pytest.raises(UsageError, match="'hierarchical_copy' is not for multi_worker_mirrored"):
        distribution.communication_options("hierarchical_copy")
    with pytest.raises(UsageError, match="--num_gpus: 4 GPU"):
        distribution.make_strategy("mirrored", num_gpus=4)
    with pytest.raises(UsageError, match="TPUEstimator"):
        distribution.make_strategy("tpu")
    with pytest.raises(UsageError, match="--tpu: --strategy=tpu needs --tpu"):
        distribution.make_keras_strategy(distribution.Options(strategy="tpu"))
    with pytest.raises(UsageError, match="parameter_server needs a cluster"):
        distribution.make_keras_strategy(distribution.Options(strategy="parameter_server"))
    assert (
        distribution.make_strategy("parameter_server", cluster=cluster_lib.parse_tf_config(tf_config(JOBS, "ps")))
        is None
    )


def test_global_batch_and_learning_rate_scaling():
    assert distribution.per_replica_batch(64, 8) == 8
    assert distribution.per_replica_batch(64, 1) == 64
    with pytest.raises(UsageError, match="--batch_size: global batch 60 does not divide over 8 replicas"):
        distribution.per_replica_batch(60, 8)
    assert distribution.scaled_learning_rate(0.1, 8, scale=True) == pytest.approx(0.8)
    assert distribution.scaled_learning_rate(0.1, 8, scale=False) == 0.1
    assert distribution.num_replicas(None) == 1


def test_seed_and_op_determinism_give_identical_numbers():
    code = (
        "import numpy as np, random, tensorflow as tf\n"
        "from estimators import distribution\n"
        "distribution.set_seeds(5, deterministic_ops=True)\n"
        "x = tf.random.normal([64, 64]); y = tf.reduce_sum(tf.matmul(x, x))\n"
        "print(repr((random.random(), float(np.random.rand()), float(y))))\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], cwd=TASK.parents[1], capture_output=True, text=True, timeout=120)
        for _ in range(2)
    ]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr[-2000:]
    assert runs[0].stdout == runs[1].stdout and runs[0].stdout.strip()
    with pytest.raises(UsageError, match="--deterministic_ops: op determinism needs a --seed"):
        distribution.set_seeds(None, deterministic_ops=True)


# --- real runs -----------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now (held open together, so they differ)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def start_task(args: list[str], log: Path, tf_config_value: str | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    if tf_config_value:
        env["TF_CONFIG"] = tf_config_value
    return subprocess.Popen(
        [sys.executable, str(TASK), *args],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: nothing it starts outlives the test
    )


@contextlib.contextmanager
def processes():
    """Processes started inside are killed (whole group) when the block ends."""
    started: list[subprocess.Popen] = []
    try:
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
            proc.wait(timeout=30)


def wait_all(procs: dict[str, subprocess.Popen], logs: dict[str, Path], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name} did not finish in {timeout:.0f}s; log tail:\n{logs[name].read_text()[-3000:]}")
        assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{logs[name].read_text()[-3000:]}"


def result_of(log: Path) -> dict:
    line = next(line for line in log.read_text().splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def saved_weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as npz:
        return {key: npz[key] for key in npz.files}


def task_args(strategy: str, data_dir: str, model_dir: Path, out: Path, *extra: str) -> list[str]:
    return [f"--strategy={strategy}", f"--data_dir={data_dir}", f"--model_dir={model_dir}", f"--out={out}", *extra]


def test_mirrored_estimator_on_two_logical_cpus(tfds_data_dir, tmp_path):
    """A model_to_estimator Estimator with a Keras metric, mirrored over two CPU devices: no hang."""
    log = tmp_path / "mirrored.log"
    with processes() as started:
        proc = start_task(
            task_args("mirrored", tfds_data_dir, tmp_path / "model", tmp_path / "out.npz", "--logical_cpu_devices=2"),
            log,
        )
        started.append(proc)
        wait_all({"mirrored": proc}, {"mirrored": log}, TASK_TIMEOUT)
    result = result_of(log)
    assert result["replicas"] == 2
    assert result["metrics"]["global_step"] == 40 and result["metrics"]["accuracy"] > 0.3
    assert (Path(result["export_path"]) / "saved_model.pb").is_file()


def test_multi_worker_mirrored_two_workers(tfds_data_dir, tmp_path):
    ports = free_ports(2)
    jobs = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    model_dir = tmp_path / "model"
    procs, logs = {}, {}
    with processes() as started:
        for index in range(2):
            name = f"worker{index}"
            logs[name] = tmp_path / f"{name}.log"
            procs[name] = start_task(
                task_args("multi_worker_mirrored", tfds_data_dir, model_dir, tmp_path / f"{name}.npz"),
                logs[name],
                tf_config(jobs, "worker", index),
            )
            started.append(procs[name])
        wait_all(procs, logs, TASK_TIMEOUT)

    chief, other = result_of(logs["worker0"]), result_of(logs["worker1"])
    assert chief["replicas"] == 2  # one per worker, in sync
    assert chief["metrics"]["global_step"] == 40
    assert (Path(chief["export_path"]) / "saved_model.pb").is_file()
    assert other["export_path"] is None  # only the chief exports
    assert len(list((model_dir / EXPORT_DIR / LATEST_EXPORTER).iterdir())) == 1
    w0, w1 = saved_weights(tmp_path / "worker0.npz"), saved_weights(tmp_path / "worker1.npz")
    assert int(w0["global_step"]) == int(w1["global_step"]) == 40
    assert int(w0["local_steps"]) == int(w1["local_steps"]) == 40  # synchronous: every step on both
    assert sorted(w0) == sorted(w1) and len(w0) > 5
    for key in w0:
        np.testing.assert_array_equal(w0[key], w1[key], err_msg=key)


def test_parameter_server_chief_worker_ps_evaluator(tfds_data_dir, tmp_path):
    chief_port, worker_port, ps_port = free_ports(3)
    jobs = {
        "chief": [f"127.0.0.1:{chief_port}"],
        "worker": [f"127.0.0.1:{worker_port}"],
        "ps": [f"127.0.0.1:{ps_port}"],
    }
    model_dir = tmp_path / "model"
    procs, logs = {}, {}
    with processes() as started:
        for task in ("ps", "chief", "worker", "evaluator"):
            logs[task] = tmp_path / f"{task}.log"
            procs[task] = start_task(
                task_args(
                    "parameter_server",
                    tfds_data_dir,
                    model_dir,
                    tmp_path / f"{task}.npz",
                    # Enough steps that the worker (Estimator starts workers 5 s late) trains too.
                    f"--train_steps={PS_STEPS}",
                    "--save_checkpoints_steps=200",
                ),
                logs[task],
                tf_config(jobs, task),
            )
            started.append(procs[task])
        # A ps serves until it is stopped: wait for the others, then the block kills it.
        wait_all({task: procs[task] for task in ("chief", "worker", "evaluator")}, logs, TASK_TIMEOUT)
        assert procs["ps"].poll() is None, "the ps task ended before training did"

    chief = result_of(logs["chief"])
    assert chief["metrics"]["global_step"] >= PS_STEPS and chief["metrics"]["accuracy"] > 0.3
    assert (Path(chief["export_path"]) / "saved_model.pb").is_file()
    assert len(list((model_dir / EXPORT_DIR / LATEST_EXPORTER).iterdir())) == 1  # the evaluator only evaluates
    assert result_of(logs["worker"])["export_path"] is None
    # Both training tasks stepped the shared global step (asynchronously) to the end.
    worker, chief_state = saved_weights(tmp_path / "worker.npz"), saved_weights(tmp_path / "chief.npz")
    assert int(worker["global_step"]) >= PS_STEPS and int(chief_state["global_step"]) >= PS_STEPS
    assert int(worker["local_steps"]) > 0 and int(chief_state["local_steps"]) > 0
    assert list((model_dir / "eval").iterdir()), "the evaluator wrote no evaluation summaries"


def test_tpu_estimator_on_cpu_trains_evaluates_exports(tfds_data_dir, tmp_path):
    import tensorflow as tf

    from common.params import DistributionParams
    from estimators import conversion
    from estimators.engines import tpu_estimator as tpu
    from estimators.models import build_model
    from estimators.models.spec import ModelSpec
    from estimators.serving import receivers as serving
    from input_fns import tfds_source
    from input_fns.preprocessing import ImageSpec

    builder = tfds_source.load_builder("digits", tfds_data_dir)
    meta = tfds_source.dataset_meta(builder)
    image = ImageSpec(height=8, width=8, channels=1, preprocessing="unit")
    spec = ModelSpec(image=image, num_classes=meta.num_classes)
    model_dir = str(tmp_path / "model")
    settings = tpu.settings_from(DistributionParams(strategy="tpu", use_tpu=False, iterations_per_loop=20))
    assert settings == tpu.TpuSettings(use_tpu=False, iterations_per_loop=20)
    run_config = tpu.make_run_config(
        model_dir, conversion.CheckpointPolicy(save_checkpoints_steps=100), settings, seed=3
    )
    estimator = tpu.make_estimator(
        lambda: build_model("small_cnn", spec), spec.input_name, meta.class_names, 2e-3, run_config, False, 32, 32
    )
    eval_steps = tpu.eval_steps_for(meta.split_sizes["test"], 32, None)
    result = tpu.train_and_evaluate(
        estimator,
        tpu.make_input_fn(builder, "train", tfds_source.TRAIN, spec.input_name, image, use_tpu=False, seed=3),
        tpu.make_input_fn(builder, "test", tfds_source.EVAL, spec.input_name, image, use_tpu=False),
        max_steps=150,
        eval_steps=eval_steps,
        export_dir_base=f"{model_dir}/export/serving",
        receiver_fn=tpu.receiver_fn_for(spec.input_name, image),
        assets_extra={LABELS_FILE: serving.write_labels(model_dir, meta.class_names)},
    )
    assert result.metrics["global_step"] == 150
    assert result.metrics["accuracy"] > 0.8

    # The export serves encoded image bytes, like the other engines' exports.
    loaded = tf.saved_model.load(result.export_path)
    serve = loaded.signatures[SERVING_KEY]
    images, labels = next(iter(builder.as_dataset(split="test", as_supervised=True).batch(16)))
    encoded = tf.stack([tf.io.encode_png(image) for image in images])
    out = serve(image_bytes=encoded)
    assert out["probabilities"].shape == (16, meta.num_classes)
    names = [name.decode() for name in out["class_names"].numpy()]
    assert names == [meta.class_names[i] for i in out["class_ids"].numpy()]
    assert (Path(result.export_path) / ASSETS_EXTRA / LABELS_FILE).is_file()
    assert np.mean(out["class_ids"].numpy() == labels.numpy()) > 0.6
