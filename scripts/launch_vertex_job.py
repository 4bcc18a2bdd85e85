"""Submit a Vertex AI custom job: worker pools for the strategy, each running scripts.train.

python -m scripts.launch_vertex_job --display_name=digits-mwms --region=us-central1 \
    --image_uri=us-docker.pkg.dev/my-project/kestrel/train:latest --job_dir=gs://my-bucket/kestrel/mwms \
    --strategy=multi_worker_mirrored --workers=3 --accelerator_type=NVIDIA_TESLA_T4 --accelerator_count=2 --dry_run
"""

from __future__ import annotations

import os
import tempfile

from scripts import cli  # sets TensorFlow's log level before TensorFlow loads

# isort: split
from absl import flags

from common.errors import UsageError
from pipeline.launch import format_command, run_commands
from scripts.flags import _cloud
from scripts.flags.core import FLAGS

_cloud.define_vertex_flags()
flags.adopt_module_key_flags(_cloud)


def main(argv: list[str]) -> None:
    del argv
    job = _cloud.vertex_job_from_flags()
    config_path = FLAGS.config_out or os.path.join(tempfile.gettempdir(), f"kestrel-vertex-{job.display_name}.json")
    # Written on a dry run too, before anything is printed: the printed command names it and must run as printed.
    try:  # its folder made as --model_dir's is; written whole or not at all
        os.makedirs(os.path.dirname(os.path.abspath(config_path)), exist_ok=True)
        with open(config_path + ".tmp", "w") as f:
            f.write(job.config_text())
        os.replace(config_path + ".tmp", config_path)
    except OSError as err:
        raise UsageError("config_out", f"cannot write '{config_path}': {err.strerror}") from None
    command = job.command(config_path)
    tasks = job.tf_config_tasks()
    print("job specification:")
    print(job.config_text(), end="")
    layout = ", ".join(f"{task} x{count}" for task, count in tasks.items()) or "none (one machine)"
    print(f"TF_CONFIG tasks (Vertex AI sets TF_CONFIG in each replica): {layout}")
    print(f"wrote {config_path}")
    print("commands:")
    print(f"$ {format_command(command)}")
    if not FLAGS.dry_run:
        run_commands([command])


if __name__ == "__main__":
    cli.run(main)
