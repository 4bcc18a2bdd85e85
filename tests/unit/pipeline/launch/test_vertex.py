"""The Vertex AI launcher's job: worker pools in Vertex's order, accelerators; bad flags are one usage line."""

from __future__ import annotations

import pytest

from common.errors import UsageError
from pipeline.launch import vertex

pytestmark = pytest.mark.small

IMAGE = "us-docker.pkg.dev/my-project/kestrel/train:2.15"


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
