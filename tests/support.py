"""What the test files share, written once: running a command, its one error line, ports, images.

Plain functions and constants; the fixtures are in conftest.py. Test files import this module as
``support`` from any folder of tests/ (pytest puts tests/ on sys.path for conftest.py; Bazel runs
tests/pytest_main.py, whose folder is on sys.path). Heavy libraries are imported where used: the
light tests that import this module stay light.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_script(
    module: str,
    *args: str,
    timeout: int = 600,
    env: Mapping[str, str] | None = None,
    python_args: tuple[str, ...] = (),
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess:
    """Run ``python [python_args] -m module args`` from the repository root, as a user would.

    ``env`` is added to this process's environment (a user's shell keeps its other variables).
    """
    return subprocess.run(
        [sys.executable, *python_args, "-m", module, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else os.environ | dict(env),
        preexec_fn=preexec_fn,
    )


def start_script(module: str, *args: str, stderr: int = subprocess.STDOUT) -> subprocess.Popen:
    """Start ``python -m module args`` from the repository root, its stdout piped as text, for a test to kill.

    It gets its own process group (``start_new_session``): killing that group takes any Beam workers too.
    """
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        start_new_session=True,
    )


def train(data_dir: str | Path, model_dir: str | Path, *args: str, **run: object) -> subprocess.CompletedProcess:
    """``python -m scripts.train --data_dir --model_dir args``: the run most tests start."""
    return run_script("scripts.train", f"--data_dir={data_dir}", f"--model_dir={model_dir}", *args, **run)


def training_report(model_dir: str | Path) -> dict:
    """The report.json a finished training run wrote under ``model_dir``."""
    return json.loads((Path(model_dir) / "report" / "report.json").read_text())


ENGINES = ("estimator", "keras")


def train_each_engine(
    data_dir: str | Path, make_dir: Callable[[str], Path], *args: str, per_engine: Callable[[str, Path], tuple] = None
) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """One ``scripts.train`` run per engine with ``args`` (and ``per_engine(engine, model_dir)``'s flags), each in
    ``make_dir(engine)``: the per-engine fixture of a task's tests, read with ``finished_run``."""
    runs = {}
    for engine in ENGINES:
        model_dir = make_dir(engine)
        extra = per_engine(engine, model_dir) if per_engine else ()
        runs[engine] = (model_dir, train(data_dir, model_dir, *args, *extra, f"--engine={engine}", timeout=900))
    return runs


@dataclasses.dataclass(frozen=True)
class ShapesTask:
    """An image task's module fixture on the embedded shapes (conftest's ``shapes_runs``): what trains, with
    ``per_engine(engine, model_dir)``'s flags, and what its report must hold."""

    task: str
    model: str
    batch_size: int
    learning_rate: float
    train_steps: int
    picture: str  # the report's PNG beside the curves
    gated: str  # what the data gate validated, named in a failure
    per_engine: Callable[[str, Path], tuple] | None = None


def train_shapes_each_engine(
    data_dir: str | Path, tmp_path_factory, shapes: ShapesTask
) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """``train_each_engine`` for ``shapes``' task and model on the embedded shapes, evaluated without a pause,
    each engine in its own ``<task>_<engine>`` folder."""
    args = (
        "--dataset=shapes",
        f"--task={shapes.task}",
        f"--model={shapes.model}",
        f"--batch_size={shapes.batch_size}",
        f"--learning_rate={shapes.learning_rate}",
        f"--train_steps={shapes.train_steps}",
        "--eval_throttle_secs=0",
    )
    make_dir = lambda engine: tmp_path_factory.mktemp(f"{shapes.task}_{engine}")  # noqa: E731
    return train_each_engine(data_dir, make_dir, *args, per_engine=shapes.per_engine)


def finished_run(runs: Mapping[str, tuple[Path, subprocess.CompletedProcess]], engine: str) -> tuple:
    """``(model_dir, run, report)`` of ``engine``'s run in a per-engine fixture; the run must have succeeded."""
    model_dir, run = runs[engine]
    assert run.returncode == 0, run.stderr[-3000:]
    return model_dir, run, training_report(model_dir)


def assert_report_written(model_dir: Path, run: subprocess.CompletedProcess, picture: str, gated: str) -> None:
    """The run's report holds ``picture``, the curves and the HTML page (each over 1 kB), and its stdout shows
    the data gate validated ``gated``."""
    for name in (picture, "curves.png", "report.html"):
        assert (model_dir / "report" / name).stat().st_size > 1000, name
    assert "validation:" in run.stdout, f"the gate validated {gated}"


def retrain_dirs(root: Path, holdout: Path) -> list[str]:
    """scripts.retrain's folders under ``root`` (spans/, work/, serving/) and the holdout."""
    return [
        f"--spans={root / 'spans'}",
        f"--holdout={holdout}",
        f"--work_dir={root / 'work'}",
        f"--serving_dir={root / 'serving'}",
    ]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def one_error_line(
    result: subprocess.CompletedProcess, *words: str, status: int | None = 2, alone: bool = False
) -> str:
    """The run's one ``error:`` line: exactly one, no traceback, the exit ``status`` (None: not
    checked here), and each of ``words`` in it; ``alone``: nothing else on stderr either.
    A usage error's contract (exit 2) by default."""
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert not alone or result.stderr.strip().splitlines() == errors, result.stderr[-3000:]
    assert status is None or result.returncode == status, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    assert all(word in errors[0] for word in words), errors[0]
    return errors[0]


def train_refused(data_dir: str | Path, tmp_path: Path, *args: str) -> str:
    """``scripts.train args`` must stop with one usage error line (returned) and write no model_dir."""
    model_dir = tmp_path / "never"
    line = one_error_line(train(data_dir, model_dir, *args))
    assert not model_dir.exists(), line
    return line


def tf_config(jobs: Mapping[str, list[str]], task_type: str, index: int = 0) -> str:
    """The TF_CONFIG of one task of a cluster ``jobs`` ({job: [host:port, ...]})."""
    return json.dumps({"cluster": jobs, "task": {"type": task_type, "index": index}})


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now (held open together, so they differ)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def free_port() -> int:
    return free_ports(1)[0]


def latest_export(model_dir: Path) -> str:
    """The newest numbered SavedModel a run exported under ``<model_dir>/export/serving``."""
    return str(sorted((model_dir / "export" / "serving").glob("1*"))[-1])


def serving_signature(model_dir: Path):
    """The ``serving_default`` signature of the newest serving export under ``model_dir``."""
    import tensorflow as tf

    return tf.saved_model.load(latest_export(model_dir)).signatures["serving_default"]


def predict_beside_a_broken_image(
    model_dir: Path, images: Path, output_dir: Path, *args: str
) -> subprocess.CompletedProcess:
    """``scripts.predict`` of the newest export over the good images in ``images`` and a ``broken.png`` put beside
    them here: the run must write the others and exit 1 naming the broken one."""
    (images / "broken.png").write_bytes(b"not an image")
    cli = run_script(
        "scripts.predict",
        f"--export_dir={latest_export(model_dir)}",
        f"--images={images}",
        f"--output_dir={output_dir}",
        *args,
    )
    assert cli.returncode == 1 and "broken.png: not an image" in cli.stderr, cli.stderr[-2000:]
    return cli


def noise(seed: int, shape: tuple[int, ...], high: int = 256) -> np.ndarray:
    """Seeded uint8 pixels in [0, high)."""
    return np.random.default_rng(seed).integers(0, high, shape, np.uint8)


def png(pixels: np.ndarray) -> bytes:
    """PNG bytes of HxWxC uint8 pixels, encoded by TensorFlow (as the data kestrel reads)."""
    import tensorflow as tf

    return tf.io.encode_png(tf.constant(pixels)).numpy()


def jpeg(pixels: np.ndarray) -> bytes:
    """JPEG bytes of HxWx3 uint8 pixels, encoded by TensorFlow (its quality 95 default)."""
    import tensorflow as tf

    return tf.io.encode_jpeg(tf.constant(pixels)).numpy()


def image_tree(
    root: Path,
    classes: tuple[str, ...],
    per_class: int,
    image: Callable[[int, int], bytes],
    suffix: str = ".png",
    bad: Mapping[str, bytes] | None = None,
) -> Path:
    """An image folder: ``root/<class>/<i><suffix>`` holding ``image(class_index, i)``, then the
    ``bad`` files (path relative to root -> bytes). Images are made class by class, in order."""
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (root / name / f"{i}{suffix}").write_bytes(image(c, i))
    for relative, data in (bad or {}).items():
        (root / relative).write_bytes(data)
    return root


def cats_and_dogs(root: Path, per_class: int, seed: int, bad: Mapping[str, bytes] | None = None) -> Path:
    """``root/cat/`` and ``root/dog/``: 8x8 PNGs a model tells apart in a few steps (dark cats,
    bright dogs; seeded), then the ``bad`` files."""
    rng = np.random.default_rng(seed)

    def image(c: int, i: int) -> bytes:
        return png(rng.integers(0, 60, (8, 8, 3), np.uint8) + np.uint8(150 * c))

    return image_tree(root, ("cat", "dog"), per_class, image, bad=bad)


def imported_top_level(importtime_log: str) -> set[str]:
    """The top-level packages named in a ``-X importtime`` log (stderr)."""
    names = set()
    for line in importtime_log.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names
