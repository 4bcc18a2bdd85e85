"""The TPU VM launcher's job: the gcloud commands follow the flags; bad flags are one usage line."""

from __future__ import annotations

import shlex

import pytest

from common.errors import UsageError
from pipeline.launch import tpu_vm

pytestmark = pytest.mark.small


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
    pack, create, copy, train, delete = job.commands()
    assert pack[0] == "tar" and "--exclude=./.venv" in pack and "--exclude=./.git" in pack
    assert create[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "create", "kestrel-v3"]
    assert {"--zone=us-central1-a", "--project=my-project", "--accelerator-type=v3-8", "--spot"} <= set(create)
    assert "--version=tpu-vm-tf-2.15.0-pjrt" in create
    assert copy[4:7] == ["scp", "/tmp/kestrel-kestrel-v3.tar.gz", "kestrel-v3:~/kestrel.tar.gz"]
    assert "--worker=all" in copy
    assert train[4:6] == ["ssh", "kestrel-v3"]
    remote = next(arg for arg in train if arg.startswith("--command="))[len("--command=") :]
    assert remote.startswith("rm -rf ~/kestrel && mkdir -p ~/kestrel && tar --extract")
    assert " && cd ~/kestrel && " in remote
    assert "--no-deps" in remote and "grep -v" in remote  # keeps the image's TPU TensorFlow
    train_command = shlex.split(remote.rsplit("&& ", 1)[1])
    assert train_command == [
        "python3",
        "-m",
        "scripts.train",
        "--strategy=tpu",
        "--tpu=local",
        "--engine=keras",
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
    assert len(commands) == 4 and all("delete" not in c for c in commands)
    assert not any(arg.startswith("--project") for arg in commands[1])  # gcloud's default project
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
        ({"train_args": "--engine=keras"}, "--train_args: --engine is set by the launcher"),
        ({"engine": "estimator"}, "--engine: 'estimator' does not train on a TPU; allowed: keras, tpu_estimator"),
        ({"train_args": "digits"}, "'digits' is not a --flag"),
        ({"train_args": "--dataset='x"}, "--train_args: cannot split"),
    ],
)
def test_tpu_vm_bad_flags(fields, message):
    base = {"name": "k", "zone": "us-central1-a", "job_dir": "gs://b/m"}
    with pytest.raises(UsageError) as err:
        tpu_vm.make_job(**(base | fields))
    assert message in str(err.value)
