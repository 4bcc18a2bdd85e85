"""Scheduled retraining: validate, train, evaluate, bless and push the newest span; list, show, roll back.

python -m scripts.retrain --spans=/data/digits --holdout=/data/digits-holdout \
    --work_dir=/srv/kestrel/retrain --serving_dir=/srv/serving --model_name=digits
python -m scripts.retrain ... --every=24h          # foreground loop, for hosts with no scheduler
python -m scripts.retrain --work_dir=... --list    # the run registry
python -m scripts.retrain --work_dir=... --show=3
python -m scripts.retrain --work_dir=... --serving_dir=... --model_name=digits --rollback [--to_version=1]

Exit status (pipeline/retraining/exits.py, docs/retraining.md): 0 pushed, rolled back or nothing new,
1 failed, 2 usage, 3 already running, 4 data refused (recorded), 5 not blessed (kept, not pushed).
"""

from __future__ import annotations

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
from absl import flags

from common.errors import UsageError
from pipeline.retraining import flow, plots, registry, schedule
from pipeline.retraining.lock import RetrainLock
from pipeline.retraining.push import ServingDir
from scripts.flags import _retrain
from scripts.flags import train as train_flags

for _group in train_flags.define_train_flags(gate=False, tflite=False):
    flags.adopt_module_key_flags(_group)
_retrain.define_retrain_flags()
flags.adopt_module_key_flags(_retrain)
FLAGS = flags.FLAGS


def list_runs() -> int:
    with registry.Registry(FLAGS.work_dir) as reg:
        runs = reg.runs()
        served = {model: ServingDir(FLAGS.serving_dir, model).served() for model in {r.model for r in runs}}
        for model, version in sorted(served.items()):
            serving = ServingDir(FLAGS.serving_dir, model)
            kept = ", ".join(map(str, serving.versions())) or "none"
            aside = ", ".join(map(str, serving.rolled_back())) or "none"
            print(f"serving {model}: version {version} (kept {kept}; rolled back {aside})")
        print(registry.format_table(runs, served))
    picture = plots.write_holdout_plot(runs, FLAGS.work_dir)
    if picture:
        print(f"holdout accuracy by span: {picture}")
    return 0


def show_run(run_id: int) -> int:
    with registry.Registry(FLAGS.work_dir) as reg:
        run = reg.get(run_id)
    print(registry.format_run(run))
    picture = plots.write_run_curves(run)
    print(f"{'curves':<16} {picture or '- (the run model_dir is gone)'}")
    return 0


def rollback() -> int:
    serving = ServingDir(FLAGS.serving_dir, FLAGS.model_name)
    # Under the lock: never move versions while a run is pushing one.
    with RetrainLock(FLAGS.work_dir), registry.Registry(FLAGS.work_dir) as reg:
        was = serving.served()
        if was is None:
            raise UsageError("rollback", f"nothing is served in {serving.root}")
        served, moved = serving.rollback(FLAGS.to_version)
        aside = ", ".join(map(str, moved)) or "none"
        # --to_version may name a newer version set aside earlier: that is a roll-forward, and says so.
        action = "rollforward" if served > was else "rollback"
        reg.record_serving(FLAGS.model_name, action, served, None, f"was {was}; set aside {aside}")
    done = {"rollforward": "rolled forward", "rollback": "rolled back"}[action] if served != was else "unchanged"
    print(f"retrain {FLAGS.model_name}: {done}: serving version {served} (was {was}; set aside {aside})")
    return 0


def main(argv: list[str]) -> int:
    del argv
    if FLAGS.list:
        return list_runs()
    if FLAGS.show is not None:
        return show_run(FLAGS.show)
    if FLAGS.rollback:
        return rollback()
    if FLAGS.to_version is not None:
        raise UsageError("to_version", "only with --rollback")
    config = _retrain.retrain_config_from_flags()
    if FLAGS.every:
        interval = schedule.parse_interval(FLAGS.every)
        schedule.every(interval, lambda: flow.run_once(config).line)
        return 0
    outcome = flow.run_once(config)
    print(outcome.line, flush=True)
    return outcome.exit_code


if __name__ == "__main__":
    cli.run(main)
