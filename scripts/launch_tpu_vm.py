"""Train on a Cloud TPU VM: create it, copy this checkout (without .venv, runs/, .git), train, delete it.

python -m scripts.launch_tpu_vm --name=kestrel-v3 --zone=us-central1-a --project=my-project \
    --job_dir=gs://my-bucket/kestrel/digits --train_args='--dataset=digits --train_steps=2000' --dry_run
"""

from __future__ import annotations

import json

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
from absl import flags

from pipeline.launch import format_command, run_commands
from scripts.flags import _cloud
from scripts.flags.core import FLAGS

_cloud.define_tpu_vm_flags()
flags.adopt_module_key_flags(_cloud)


def main(argv: list[str]) -> None:
    del argv
    job = _cloud.tpu_vm_job_from_flags()
    print("job specification:")
    print(json.dumps(job.spec(), indent=2, sort_keys=True))
    print("commands:")
    for command in job.commands():
        print(f"$ {format_command(command)}")
    if not FLAGS.dry_run:
        run_commands(job.commands())


if __name__ == "__main__":
    cli.run(main)
