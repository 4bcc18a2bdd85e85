"""Cloud launchers: the job specification and gcloud commands follow the flags (nothing reaches a cloud)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from support import REPO_ROOT, run_script

from common.errors import UsageError
from pipeline.launch import tpu_vm, vertex

pytestmark = pytest.mark.medium

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
    spec_text, commands = stdout.split("commands:\n")
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
    # The dry run writes the file its command names, and it is the specification it printed.
    assert json.loads((tmp_path / "job.json").read_text()) == spec

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
    assert commands[0][0] == "tar" and [command[4] for command in commands[1:]] == ["create", "scp", "ssh", "delete"]


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


# --- every command a launcher prints, parsed as scripts.train parses it -----------------------------

HARNESS = str(REPO_ROOT / "tests" / "doc_flags_harness.py")
TRAIN_ARGS = "--dataset=digits --train_steps=2000 --batch_size=1024"
VERTEX_POOLS = {
    "default": [],
    "one_device": ["--accelerator_type=NVIDIA_TESLA_T4", "--accelerator_count=1"],
    "mirrored": ["--accelerator_type=NVIDIA_TESLA_V100", "--accelerator_count=4"],
    "multi_worker_mirrored": ["--workers=2", "--evaluator"],
    "parameter_server": ["--workers=2", "--ps=1"],
}


def _tpu_vm_train_commands(engine_flags: list[str], accelerator: str) -> list[list[str]]:
    """The scripts.train argument lists a TPU VM dry run prints (the ssh command's last part)."""
    result = run_script(
        "scripts.launch_tpu_vm",
        "--name=k",
        "--zone=us-central1-a",
        "--job_dir=gs://b/tpu",
        f"--accelerator_type={accelerator}",
        f"--train_args={TRAIN_ARGS}",
        *engine_flags,
        "--dry_run",
    )
    assert result.returncode == 0, result.stderr
    _, commands = _dry_run_sections(result.stdout)
    remotes = [arg[len("--command=") :] for command in commands for arg in command if arg.startswith("--command=")]
    trains = [shlex.split(remote.rsplit(" && ", 1)[1]) for remote in remotes]
    assert trains and all(train[:3] == ["python3", "-m", "scripts.train"] for train in trains), trains
    return [train[3:] for train in trains]


def _vertex_train_commands(strategy: str, engine: str, config: Path) -> list[list[str]]:
    """The scripts.train argument lists of every pool in the CustomJobSpec a Vertex dry run writes."""
    result = run_script(
        "scripts.launch_vertex_job",
        "--display_name=d",
        "--region=us-central1",
        f"--image_uri={IMAGE}",
        "--job_dir=gs://b/vertex",
        f"--strategy={strategy}",
        *VERTEX_POOLS[strategy],
        f"--train_args={TRAIN_ARGS} --engine={engine}",
        f"--config_out={config}",
        "--dry_run",
    )
    assert result.returncode == 0, result.stderr
    _, commands = _dry_run_sections(result.stdout)
    assert commands[0][-1] == f"--config={config}"
    pools = [pool for pool in json.loads(config.read_text())["workerPoolSpecs"] if pool]
    specs = [pool["containerSpec"] for pool in pools]
    assert all(spec["command"] == ["python", "-m", "scripts.train"] for spec in specs), specs
    return [spec["args"] for spec in specs]


def _refusals(commands: list[list[str]]) -> list[str | None]:
    """scripts.train's verdict on each argument list: absl's parser, the records, the engine's check."""
    result = subprocess.run(
        [sys.executable, HARNESS, "scripts.train"],
        input=json.dumps(commands),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_every_command_the_launchers_print_is_one_scripts_train_accepts(tmp_path):
    printed: dict[str, list[str]] = {}
    for engine_flags in ([], ["--engine=keras"], ["--engine=tpu_estimator"]):
        for accelerator in ("v3-8", "v4-32"):
            for args in _tpu_vm_train_commands(engine_flags, accelerator):
                printed[f"tpu_vm {accelerator} {engine_flags}"] = args
    for strategy in VERTEX_POOLS:
        for engine in ("estimator", "keras"):
            for number, args in enumerate(_vertex_train_commands(strategy, engine, tmp_path / "job.json")):
                printed[f"vertex {strategy} {engine} pool {number}"] = args
    verdicts = dict(zip(printed, _refusals(list(printed.values())), strict=True))
    assert {name: error for name, error in verdicts.items() if error} == {}
    # The TPU VM trains with the engine asked for, TPUStrategy's keras by default.
    assert printed["tpu_vm v3-8 []"][:3] == ["--strategy=tpu", "--tpu=local", "--engine=keras"]
    assert "--engine=tpu_estimator" in printed["tpu_vm v4-32 ['--engine=tpu_estimator']"]


def test_the_harness_refuses_what_scripts_train_refuses():
    # The check above can fail: the same harness on commands scripts.train refuses.
    verdicts = _refusals([["--strategy=tpu", "--engine=estimator"], ["--strategy=tpu", "--tpu"], ["--nosuchflag"]])
    assert verdicts[0].startswith("--strategy: tpu trains with --engine=keras") and all(verdicts), verdicts


def test_the_tpu_vm_copy_leaves_out_venv_runs_caches_and_git(tmp_path):
    checkout = tmp_path / "checkout"
    for kept in ("scripts/train.py", "requirements.lock", "tests/runs_helper.py"):
        (checkout / kept).parent.mkdir(parents=True, exist_ok=True)
        (checkout / kept).write_text("kept\n")
    for left_out in (".venv/bin/python", "runs/digits/checkpoint", ".git/HEAD", "scripts/__pycache__/train.pyc"):
        (checkout / left_out).parent.mkdir(parents=True, exist_ok=True)
        (checkout / left_out).write_text("left out\n")
    for cache in (".pytest_cache", ".ruff_cache", "bazel-out"):
        (checkout / cache).mkdir()
        (checkout / cache / "x").write_text("left out\n")
    job = tpu_vm.make_job(name="copytest", zone="z", job_dir="gs://b/x", source_dir=str(checkout))
    pack = job.commands()[0]
    archive = tmp_path / "archive.tar.gz"
    pack = [f"--file={archive}" if arg.startswith("--file=") else arg for arg in pack]
    subprocess.run(pack, check=True, timeout=60)
    with tarfile.open(archive) as tar:
        files = sorted(member.name.removeprefix("./") for member in tar.getmembers() if member.isfile())
    assert files == ["requirements.lock", "scripts/train.py", "tests/runs_helper.py"]


def test_the_tpu_vm_installs_the_lock_except_its_tensorflow(tmp_path):
    # The setup the VM runs, here on the real lock: every pin but tensorflow's, exactly, no resolution.
    remote = next(
        arg for arg in tpu_vm.make_job(name="k", zone="z", job_dir="gs://b").commands()[3] if "--command" in arg
    )
    select = next(part for part in remote.split(" && ") if part.startswith("grep -v"))
    assert select.endswith(" requirements-py310.lock > /tmp/kestrel-requirements.txt")  # the VM runs Python 3.10
    command = select.split(" > ")[0]
    kept = subprocess.run(command, shell=True, cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout  # noqa: S602
    lock = (REPO_ROOT / "requirements-py310.lock").read_text().splitlines()
    assert [line for line in lock if line not in kept.splitlines()] == [
        line for line in lock if line.startswith("tensorflow==")
    ]
    assert "pip install --quiet --no-deps -r /tmp/kestrel-requirements.txt" in remote


# --- Vertex AI's CustomJobSpec, as its REST reference documents it -----------------------------------

# From the Vertex AI REST reference (projects.locations.customJobs, CustomJobSpec, WorkerPoolSpec,
# MachineSpec, ContainerSpec, PythonPackageSpec, GcsDestination): field names and types, the
# exclusive container/python-package task, and the required fields. Written from the docs, not
# from kestrel's output.
_ENV = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
    },
}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_INT64 = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9]+$"}]}
ACCELERATOR_TYPES = [
    "NVIDIA_TESLA_K80",
    "NVIDIA_TESLA_P100",
    "NVIDIA_TESLA_V100",
    "NVIDIA_TESLA_P4",
    "NVIDIA_TESLA_T4",
    "NVIDIA_TESLA_A100",
    "NVIDIA_A100_80GB",
    "NVIDIA_L4",
    "NVIDIA_H100_80GB",
    "TPU_V2",
    "TPU_V3",
    "TPU_V4_POD",
    "TPU_V5_LITEPOD",
]
WORKER_POOL_SPEC = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "containerSpec": {
            "type": "object",
            "required": ["imageUri"],
            "additionalProperties": False,
            "properties": {
                "imageUri": {"type": "string", "minLength": 1},
                "command": _STRINGS,
                "args": _STRINGS,
                "env": _ENV,
            },
        },
        "pythonPackageSpec": {
            "type": "object",
            "required": ["executorImageUri", "packageUris", "pythonModule"],
            "additionalProperties": False,
            "properties": {
                "executorImageUri": {"type": "string"},
                "packageUris": _STRINGS,
                "pythonModule": {"type": "string"},
                "args": _STRINGS,
                "env": _ENV,
            },
        },
        "machineSpec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "machineType": {"type": "string"},
                "acceleratorType": {"enum": ACCELERATOR_TYPES},
                "acceleratorCount": {"type": "integer", "minimum": 1},
                "tpuTopology": {"type": "string"},
            },
        },
        "replicaCount": _INT64,
        "diskSpec": {
            "type": "object",
            "properties": {"bootDiskType": {"type": "string"}, "bootDiskSizeGb": {"type": "integer"}},
        },
        "nfsMounts": {"type": "array"},
    },
    # A pool runs a container or a Python package, not both; an unused pool is an empty {}.
    "oneOf": [
        {"required": ["containerSpec", "machineSpec", "replicaCount"], "not": {"required": ["pythonPackageSpec"]}},
        {"required": ["pythonPackageSpec", "machineSpec", "replicaCount"], "not": {"required": ["containerSpec"]}},
        {"maxProperties": 0},
    ],
}
CUSTOM_JOB_SPEC = {
    "type": "object",
    "required": ["workerPoolSpecs"],
    "additionalProperties": False,
    "properties": {
        "workerPoolSpecs": {"type": "array", "minItems": 1, "maxItems": 4, "items": WORKER_POOL_SPEC},
        "baseOutputDirectory": {
            "type": "object",
            "required": ["outputUriPrefix"],
            "additionalProperties": False,
            "properties": {"outputUriPrefix": {"type": "string", "pattern": "^gs://"}},
        },
        "serviceAccount": {"type": "string"},
        "network": {"type": "string"},
        "tensorboard": {"type": "string"},
        "enableWebAccess": {"type": "boolean"},
        "scheduling": {"type": "object"},
    },
}


@pytest.mark.parametrize("strategy", list(VERTEX_POOLS))
def test_the_custom_job_spec_a_dry_run_writes_follows_vertex_schema(strategy, tmp_path):
    import jsonschema

    config = tmp_path / "job.json"
    _vertex_train_commands(strategy, "keras", config)
    spec = json.loads(config.read_text())
    jsonschema.validate(spec, CUSTOM_JOB_SPEC)
    # Vertex's distributed-training layout: the first pool is the one primary replica.
    assert spec["workerPoolSpecs"][0] and int(spec["workerPoolSpecs"][0]["replicaCount"]) == 1


def test_the_vertex_schema_rejects_what_vertex_rejects():
    import jsonschema

    pool = {"machineSpec": {"machineType": "n1-standard-4"}, "replicaCount": 1, "containerSpec": {"imageUri": IMAGE}}
    jsonschema.validate({"workerPoolSpecs": [pool]}, CUSTOM_JOB_SPEC)
    package = {"executorImageUri": IMAGE, "packageUris": ["gs://b/p.tar.gz"], "pythonModule": "scripts.train"}
    for bad in (
        {"workerPoolSpecs": []},
        {"workerPoolSpecs": [pool | {"pythonPackageSpec": package}]},
        {"workerPoolSpecs": [pool | {"machineSpec": {"machineType": "n1", "acceleratorType": "T4"}}]},
        {"workerPoolSpecs": [pool | {"containerSpec": {"image": IMAGE}}]},
        {"workerPoolSpecs": [pool], "baseOutputDirectory": "gs://b"},
        {"worker_pool_specs": [pool]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, CUSTOM_JOB_SPEC)
