"""Cloud launchers: the job specification and gcloud commands follow the flags (nothing reaches a cloud)."""

from __future__ import annotations

import json
import shlex

import pytest
from conftest import run_script

from common.errors import UsageError
from pipeline.launch import tpu_vm, vertex

IMAGE = "us-docker.pkg.dev/my-project/kestrel/train:2.15"


def test_tpu_vm_single_host_commands_follow_the_flags():
    job = tpu_vm.make_job(
        name="kestrel-v3",
        zone="us-central1-a",
        project="my-project",
        job_dir="gs://bucket/digits",
        accelerator_type="v3-8",
        train_args="--dataset=digits --train_steps=2000 --batch_size=1024",
        spot=True,
    )
    create, copy, train, delete = job.commands()
    assert create[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "create", "kestrel-v3"]
    assert {"--zone=us-central1-a", "--project=my-project", "--accelerator-type=v3-8", "--spot"} <= set(create)
    assert "--version=tpu-vm-tf-2.15.0-pjrt" in create
    assert copy[4:8] == ["scp", "--recurse", ".", "kestrel-v3:~/kestrel"] and "--worker=all" in copy
    assert train[4:6] == ["ssh", "kestrel-v3"]
    remote = next(arg for arg in train if arg.startswith("--command="))[len("--command=") :]
    assert remote.startswith("cd ~/kestrel && ")
    assert "--no-deps" in remote and "grep -v" in remote  # keeps the image's TPU TensorFlow
    train_command = shlex.split(remote.rsplit("&& ", 1)[1])
    assert train_command == [
        "python3",
        "-m",
        "scripts.train",
        "--strategy=tpu",
        "--tpu=local",
        "--model_dir=gs://bucket/digits",
        "--dataset=digits",
        "--train_steps=2000",
        "--batch_size=1024",
    ]
    assert delete[4:6] == ["delete", "kestrel-v3"] and "--quiet" in delete
    spec = job.spec()
    assert spec["tpu"] == "local" and spec["hosts"] == 1 and spec["command"] == train_command


def test_tpu_vm_pod_slice_uses_the_pod_runtime_and_keeps_vm_on_request():
    job = tpu_vm.make_job(
        name="pod", zone="us-central2-b", job_dir="gs://b/x", accelerator_type="v4-32", delete_after=False
    )
    assert job.multi_host and job.runtime == "tpu-vm-tf-2.15.0-pod-pjrt"
    commands = job.commands()
    assert len(commands) == 3 and all("delete" not in c for c in commands)
    assert not any(arg.startswith("--project") for arg in commands[0])  # gcloud's default project
    assert tpu_vm.make_job(name="a", zone="z", job_dir="gs://b", runtime_version="tpu-vm-tf-2.15.0-se").runtime == (
        "tpu-vm-tf-2.15.0-se"
    )


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"job_dir": "/tmp/model"}, "--job_dir: '/tmp/model' must be a gs:// path"),
        ({"accelerator_type": "tpu8"}, "--accelerator_type: 'tpu8' is not a TPU type"),
        ({"name": "Bad_Name"}, "--name: 'Bad_Name' is not a TPU name"),
        ({"train_args": "--strategy=mirrored"}, "--train_args: --strategy is set by the launcher"),
        ({"train_args": "--nouse_tpu"}, "--train_args: --nouse_tpu is set by the launcher"),
        ({"train_args": "digits"}, "'digits' is not a --flag"),
        ({"train_args": "--dataset='x"}, "--train_args: cannot split"),
    ],
)
def test_tpu_vm_bad_flags(fields, message):
    base = {"name": "k", "zone": "us-central1-a", "job_dir": "gs://b/m"}
    with pytest.raises(UsageError) as err:
        tpu_vm.make_job(**(base | fields))
    assert message in str(err.value)


def vertex_job(**fields) -> vertex.VertexJob:
    base = {"display_name": "digits", "region": "us-central1", "image_uri": IMAGE, "job_dir": "gs://b/run"}
    return vertex.make_job(**(base | fields))


def test_vertex_multi_worker_pools_and_gpus():
    job = vertex_job(
        strategy="multi_worker_mirrored",
        workers=3,
        machine_type="n1-standard-16",
        accelerator_type="NVIDIA_TESLA_T4",
        accelerator_count=2,
        train_args="--dataset=digits --batch_size=256",
    )
    chief, workers = job.spec()["workerPoolSpecs"]
    assert chief["replicaCount"] == 1 and workers["replicaCount"] == 3
    for pool in (chief, workers):
        assert pool["machineSpec"] == {
            "machineType": "n1-standard-16",
            "acceleratorType": "NVIDIA_TESLA_T4",
            "acceleratorCount": 2,
        }
        assert pool["containerSpec"] == {
            "imageUri": IMAGE,
            "command": ["python", "-m", "scripts.train"],
            "args": [
                "--strategy=multi_worker_mirrored",
                "--model_dir=gs://b/run",
                "--num_gpus=2",
                "--dataset=digits",
                "--batch_size=256",
            ],
        }
    assert job.tf_config_tasks() == {"chief": 1, "worker": 3}
    assert job.spec()["baseOutputDirectory"] == {"outputUriPrefix": "gs://b/run"}
    assert job.command("/tmp/job.json") == [
        "gcloud",
        "ai",
        "custom-jobs",
        "create",
        "--region=us-central1",
        "--display-name=digits",
        "--config=/tmp/job.json",
    ]


def test_vertex_parameter_server_pools_in_vertex_order():
    job = vertex_job(strategy="parameter_server", workers=2, ps=2, evaluator=True, project="p")
    pools = job.spec()["workerPoolSpecs"]
    assert [pool["replicaCount"] for pool in pools] == [1, 2, 2, 1]
    assert pools[2]["machineSpec"] == {"machineType": "n1-highmem-8"}
    assert job.tf_config_tasks() == {"chief": 1, "worker": 2, "ps": 2, "evaluator": 1}
    assert "--project=p" in job.command("c.json")
    single = vertex_job(strategy="mirrored", accelerator_type="NVIDIA_TESLA_V100", accelerator_count=4)
    assert len(single.spec()["workerPoolSpecs"]) == 1 and single.tf_config_tasks() == {}
    # An evaluator without pool 2 still sits in pool 3: the unused pool is an empty spec.
    mwms_eval = vertex_job(strategy="multi_worker_mirrored", workers=1, evaluator=True)
    assert [bool(pool) for pool in mwms_eval.spec()["workerPoolSpecs"]] == [True, True, False, True]


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"strategy": "tpu"}, "launch_tpu_vm"),
        ({"strategy": "multi_worker_mirrored"}, "--workers: multi_worker_mirrored needs --workers >= 1"),
        ({"strategy": "multi_worker_mirrored", "workers": 1, "ps": 1}, "--ps: multi_worker_mirrored takes no"),
        ({"strategy": "parameter_server", "workers": 1}, "--ps: parameter_server needs --ps >= 1"),
        ({"strategy": "mirrored", "workers": 2}, "'mirrored' runs on one machine"),
        ({"accelerator_type": "NVIDIA_TESLA_T4"}, "--accelerator_count: set --accelerator_type and"),
        ({"image_uri": "not an image"}, "--image_uri: 'not an image' is not a container image"),
        ({"job_dir": "runs/x"}, "--job_dir: 'runs/x' must be a gs:// path"),
        ({"train_args": "--model_dir=gs://x"}, "--model_dir is set by the launcher"),
    ],
)
def test_vertex_bad_flags(fields, message):
    with pytest.raises(UsageError) as err:
        vertex_job(**fields)
    assert message in str(err.value)


def _dry_run_sections(stdout: str) -> tuple[str, list[str]]:
    spec_text, commands = stdout.split("gcloud commands:\n")
    return spec_text, [shlex.split(line[2:]) for line in commands.splitlines() if line.startswith("$ ")]


def test_launch_scripts_dry_run_print_spec_and_commands(tmp_path):
    result = run_script(
        "scripts.launch_vertex_job",
        "--display_name=digits-ps",
        "--region=europe-west4",
        f"--image_uri={IMAGE}",
        "--job_dir=gs://b/ps",
        "--strategy=parameter_server",
        "--workers=2",
        "--ps=1",
        f"--config_out={tmp_path / 'job.json'}",
        "--train_args=--dataset=digits --train_steps=500",
        "--dry_run",
    )
    assert result.returncode == 0, result.stderr
    spec_text, commands = _dry_run_sections(result.stdout)
    spec = json.loads(spec_text.split("job specification:\n", 1)[1].split("TF_CONFIG tasks")[0])
    assert [pool["replicaCount"] for pool in spec["workerPoolSpecs"]] == [1, 2, 1]
    # Vertex AI derives AIP_MODEL_DIR, AIP_CHECKPOINT_DIR and AIP_TENSORBOARD_LOG_DIR from it (scripts.train reads them).
    assert spec["baseOutputDirectory"] == {"outputUriPrefix": "gs://b/ps"}
    assert spec["workerPoolSpecs"][0]["containerSpec"]["args"][-2:] == ["--dataset=digits", "--train_steps=500"]
    assert "chief x1, worker x2, ps x1" in result.stdout
    assert commands == [
        [
            "gcloud",
            "ai",
            "custom-jobs",
            "create",
            "--region=europe-west4",
            "--display-name=digits-ps",
            f"--config={tmp_path / 'job.json'}",
        ]
    ]
    assert not (tmp_path / "job.json").exists()  # a dry run writes nothing

    result = run_script(
        "scripts.launch_tpu_vm",
        "--name=kestrel-v3",
        "--zone=us-central1-a",
        "--job_dir=gs://b/tpu",
        "--accelerator_type=v3-32",
        "--dry_run",
    )
    assert result.returncode == 0, result.stderr
    spec_text, commands = _dry_run_sections(result.stdout)
    spec = json.loads(spec_text.split("job specification:\n", 1)[1])
    assert spec["runtime_version"] == "tpu-vm-tf-2.15.0-pod-pjrt" and spec["hosts"] == "all"
    assert [command[4] for command in commands] == ["create", "scp", "ssh", "delete"]


@pytest.mark.parametrize(
    "module,args,message",
    [
        ("scripts.launch_tpu_vm", ["--name=k", "--zone=z", "--job_dir=/local"], "--job_dir: '/local' must be a gs://"),
        ("scripts.launch_tpu_vm", ["--zone=z", "--job_dir=gs://b"], "--name"),
        (
            "scripts.launch_vertex_job",
            ["--display_name=d", "--region=r", f"--image_uri={IMAGE}", "--job_dir=gs://b", "--strategy=tpu"],
            "--strategy",
        ),
    ],
)
def test_launch_script_errors_are_one_line_exit_2(module, args, message):
    result = run_script(module, *args, "--dry_run")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
