"""Cloud launcher flags (scripts/launch_tpu_vm.py, scripts/launch_vertex_job.py): job specs, no TensorFlow."""

from __future__ import annotations

from absl import flags

from scripts.flags.core import FLAGS, flag_values


def define_cloud_flags() -> None:
    """Shared by the cloud launchers (scripts/launch_*.py)."""
    flags.DEFINE_string("project", None, "GCP project; default: gcloud's configured one.")
    flags.DEFINE_string("job_dir", None, "gs:// directory: the run's model_dir (checkpoints, exports).")
    flags.DEFINE_string("train_args", "", "More scripts.train flags as one string: '--dataset=x --train_steps=N'.")
    flags.DEFINE_boolean("dry_run", False, "Print the job specification and commands; run nothing.")
    flags.mark_flag_as_required("job_dir")


def define_tpu_vm_flags() -> None:
    from pipeline.launch.tpu_vm import TPU_ENGINES, TpuVmJob

    d = TpuVmJob(name="x", zone="z", job_dir="gs://x")
    define_cloud_flags()
    flags.DEFINE_string("name", None, "TPU VM name (created, used, and deleted unless --keep_vm).")
    flags.DEFINE_string("zone", None, "Zone with TPU capacity, e.g. us-central1-a (v3) or us-central2-b (v4).")
    flags.DEFINE_string("accelerator_type", d.accelerator_type, "TPU type: v3-8, v4-8, v5litepod-8, v3-32, ...")
    flags.DEFINE_string("runtime_version", None, "TPU software version; default: tpu-vm-tf-2.15.0[-pod]-pjrt.")
    flags.DEFINE_enum(
        "engine",
        d.engine,
        list(TPU_ENGINES),
        "keras: Model.fit under TPUStrategy (Cloud TPU's TF 2 path); tpu_estimator.",
    )
    flags.DEFINE_string("source_dir", d.source_dir, "Local checkout to copy to the VM (without .venv, runs/, .git).")
    flags.DEFINE_boolean("spot", d.spot, "Spot (preemptible) capacity.")
    flags.DEFINE_boolean("keep_vm", not d.delete_after, "Do not delete the VM after training.")
    flags.mark_flags_as_required(["name", "zone"])


def tpu_vm_job_from_flags():
    from pipeline.launch import tpu_vm

    return tpu_vm.make_job(**flag_values(tpu_vm.TpuVmJob, delete_after=not FLAGS.keep_vm))


def define_vertex_flags() -> None:
    from pipeline.launch.vertex import CLUSTER_STRATEGIES, SINGLE_MACHINE, VertexJob

    d = VertexJob(display_name="x", region="r", image_uri="r.io/p/i", job_dir="gs://x")
    define_cloud_flags()
    flags.DEFINE_string("display_name", None, "Vertex AI job name.")
    flags.DEFINE_string("region", None, "Vertex AI region, e.g. us-central1.")
    flags.DEFINE_string("image_uri", None, "Training container with kestrel installed (its workdir the checkout).")
    flags.DEFINE_enum("strategy", d.strategy, [*SINGLE_MACHINE, *CLUSTER_STRATEGIES], "Distribution strategy.")
    flags.DEFINE_string("machine_type", d.machine_type, "Machine type of the chief, workers and evaluator.")
    flags.DEFINE_string("accelerator_type", d.accelerator_type, "e.g. NVIDIA_TESLA_T4, NVIDIA_TESLA_V100; none: CPU.")
    flags.DEFINE_integer("accelerator_count", d.accelerator_count, "Accelerators per machine.", lower_bound=0)
    flags.DEFINE_integer("workers", d.workers, "Worker replicas beside the chief (pool 1).", lower_bound=0)
    flags.DEFINE_integer("ps", d.ps, "Parameter servers (pool 2).", lower_bound=0)
    flags.DEFINE_string("ps_machine_type", d.ps_machine_type, "Machine type of the parameter servers.")
    flags.DEFINE_boolean("evaluator", d.evaluator, "Add an evaluator task (pool 3).")
    flags.DEFINE_string(
        "config_out", None, "Where to write the CustomJobSpec --config names (dry run too); default: a temporary file."
    )
    flags.mark_flags_as_required(["display_name", "region", "image_uri"])


def vertex_job_from_flags():
    from pipeline.launch import vertex

    return vertex.make_job(**flag_values(vertex.VertexJob))
