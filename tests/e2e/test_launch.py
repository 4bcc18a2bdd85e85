"""Cloud launchers through their commands: dry runs, every printed training command accepted, the copy, the lock
and the CustomJobSpec against Vertex's schema (nothing reaches a cloud). The jobs themselves: tests/unit/pipeline/launch/."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from support import REPO_ROOT, run_script

from pipeline.launch import tpu_vm

pytestmark = pytest.mark.medium

IMAGE = "us-docker.pkg.dev/my-project/kestrel/train:2.15"


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
