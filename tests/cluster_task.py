"""One task of a test cluster (or a lone process): trains the small CNN on digits as an Estimator under TF_CONFIG.

python tests/cluster_task.py --strategy=multi_worker_mirrored --data_dir=... --model_dir=... --out=task.npz

Every process of a cluster runs this with its own TF_CONFIG. The chief
evaluates and exports after training; each training task writes its final
global step and weights to ``--out`` (an .npz) so a test can compare them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common.names import EXPORT_DIR, LATEST_EXPORTER, as_str  # noqa: E402
from estimators import conversion  # noqa: E402
from estimators.distribute import cluster as cluster_lib  # noqa: E402
from estimators.distribute import cluster_run  # noqa: E402
from estimators.distribute import strategy as distribution  # noqa: E402
from estimators.models import build_model  # noqa: E402
from estimators.models.spec import ModelSpec  # noqa: E402
from estimators.serving import receivers as serving  # noqa: E402
from input_fns import tfds_source  # noqa: E402
from input_fns.preprocessing import ImageSpec  # noqa: E402


class FinalStateHook(tf.estimator.SessionRunHook):
    """Writes the global step, this task's own step count and every trainable variable at the end."""

    def __init__(self, path: str):
        self._path = path

    def begin(self) -> None:
        self._step = tf.compat.v1.train.get_global_step()
        self._variables = {v.op.name: v for v in tf.compat.v1.trainable_variables()}

        self._local_steps = 0

    def after_run(self, run_context, run_values) -> None:
        self._local_steps += 1

    def end(self, session) -> None:
        values = session.run({"global_step": self._step, **self._variables})
        arrays = {name.replace("/", "__"): value for name, value in values.items()}
        np.savez(self._path, local_steps=self._local_steps, **arrays)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--strategy", required=True)
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--train_steps", type=int, default=40)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--eval_steps", type=int, default=5)
    parser.add_argument("--logical_cpu_devices", type=int, default=0)
    parser.add_argument("--save_checkpoints_steps", type=int, default=20)
    args = parser.parse_args()

    # Before any op: TensorFlow fixes its devices when it first runs one.
    distribution.configure_logical_cpus(args.logical_cpu_devices)

    cluster = cluster_lib.read_cluster()
    distribution.set_seeds(7)
    strategy = distribution.make_strategy(args.strategy, cluster=cluster)
    builder = tfds_source.load_builder("digits", args.data_dir)
    meta = tfds_source.dataset_meta(builder)
    image = ImageSpec(height=8, width=8, channels=1, preprocessing="unit")
    spec = ModelSpec(image=image, num_classes=meta.num_classes)
    model = build_model("small_cnn", spec)
    policy = conversion.CheckpointPolicy(
        save_checkpoints_steps=args.save_checkpoints_steps, save_summary_steps=1000, log_step_count_steps=1000
    )
    run_config = conversion.make_run_config(
        args.model_dir, policy, seed=7, train_distribute=strategy, eval_distribute=strategy
    )
    estimator = conversion.with_class_outputs(conversion.keras_to_estimator(model, run_config), meta.class_names)

    def input_fn(split: str, mode: str):
        return tfds_source.make_input_fn(builder, split, mode, args.batch_size, spec.input_name, image, seed=7)

    receiver_fn = serving.image_bytes_receiver_fn(spec.input_name, image)

    def export(local: tf.estimator.Estimator) -> str:
        return as_str(local.export_saved_model(os.path.join(args.model_dir, EXPORT_DIR, LATEST_EXPORTER), receiver_fn))

    hooks = [FinalStateHook(args.out)] if cluster is None or cluster.task_type != "evaluator" else []
    exporters = [tf.estimator.FinalExporter(LATEST_EXPORTER, receiver_fn)]
    train_spec = tf.estimator.TrainSpec(input_fn("train", tfds_source.TRAIN), max_steps=args.train_steps, hooks=hooks)
    eval_spec = tf.estimator.EvalSpec(
        input_fn("test", tfds_source.EVAL),
        steps=args.eval_steps,
        exporters=exporters,
        start_delay_secs=0,
        throttle_secs=1,
    )
    result = cluster_run.train_and_evaluate(estimator, train_spec, eval_spec, cluster, export)
    replicas = distribution.num_replicas(strategy)
    print("RESULT " + json.dumps({**result.__dict__, "replicas": replicas}), flush=True)


if __name__ == "__main__":
    main()
