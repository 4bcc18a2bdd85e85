"""--overwrite_model_dir replaces only a model_dir kestrel wrote, and only once every check has passed."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from support import one_error_line, run_script

pytestmark = pytest.mark.medium

MARKER = ".kestrel-model-dir"


def _train(*args: str):
    return run_script("scripts.train", "--train_steps=2", "--noreport", *args)


def test_a_file_named_as_model_dir_is_refused_and_kept(tmp_path, tfds_data_dir):
    target = tmp_path / "f.txt"
    target.write_text("data")
    proc = _train(f"--data_dir={tfds_data_dir}", f"--model_dir={target}", "--overwrite_model_dir")
    one_error_line(proc, "--model_dir", "is a file")
    assert target.read_text() == "data"


def test_a_folder_kestrel_did_not_write_is_refused_and_kept(tmp_path, tfds_data_dir):
    docs = tmp_path / "documents"
    (docs / "notes").mkdir(parents=True)
    (docs / "notes" / "a.txt").write_text("mine")
    proc = _train(f"--data_dir={tfds_data_dir}", f"--model_dir={docs}", "--overwrite_model_dir")
    one_error_line(proc, "--model_dir", MARKER)
    assert (docs / "notes" / "a.txt").read_text() == "mine"


def _labels_only(folder: Path) -> None:
    (folder / "labels.txt").write_text("cat\ndog\n")


def _checkpoint_only(folder: Path) -> None:
    (folder / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-1"\n')


def _both_without_the_marker(folder: Path) -> None:
    _labels_only(folder)
    _checkpoint_only(folder)


def _marker_is_a_directory(folder: Path) -> None:
    _both_without_the_marker(folder)
    (folder / MARKER).mkdir()


def _marker_is_a_symlink(folder: Path) -> None:
    # A link to a real marker elsewhere: the folder itself was never written by kestrel.
    real = folder.parent / "real-run"
    real.mkdir()
    (real / MARKER).write_text("written by kestrel")
    _both_without_the_marker(folder)
    (folder / MARKER).symlink_to(real / MARKER)


def _marker_is_a_dangling_symlink(folder: Path) -> None:
    _labels_only(folder)
    (folder / MARKER).symlink_to(folder.parent / "nowhere")


def _marker_in_a_subfolder(folder: Path) -> None:
    _both_without_the_marker(folder)
    (folder / "old-run").mkdir()
    (folder / "old-run" / MARKER).write_text("written by kestrel")


LOOK_ALIKES = {
    "labels_only": _labels_only,
    "checkpoint_only": _checkpoint_only,
    "checkpoint_and_labels_without_the_marker": _both_without_the_marker,
    "marker_is_a_directory": _marker_is_a_directory,
    "marker_is_a_symlink": _marker_is_a_symlink,
    "marker_is_a_dangling_symlink": _marker_is_a_dangling_symlink,
    "marker_in_a_subfolder": _marker_in_a_subfolder,
}


@pytest.mark.parametrize("make", LOOK_ALIKES.values(), ids=LOOK_ALIKES.keys())
def test_a_look_alike_of_a_kestrel_run_is_refused_and_kept(make, tmp_path, tfds_data_dir):
    """Only the marker, as a regular file, makes a folder kestrel's: the files a run also writes do not."""
    folder = tmp_path / "model"
    folder.mkdir()
    make(folder)
    (folder / "mine.txt").write_text("user data")
    before = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    proc = _train(f"--data_dir={tfds_data_dir}", f"--model_dir={folder}", "--overwrite_model_dir")
    one_error_line(proc, "--model_dir", MARKER, "kestrel did not write")
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == before
    assert (folder / "mine.txt").read_text() == "user data"


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory) -> Path:
    """A finished kestrel run on a small CSV: its model_dir holds the marker, checkpoints and an export."""
    root = tmp_path_factory.mktemp("csv_run")
    rng = random.Random(0)
    rows = ["a,b,label", *(f"{rng.random():.4f},{rng.random():.4f},{i % 2}" for i in range(120))]
    (root / "good.csv").write_text("\n".join(rows) + "\n")
    # A row with five fields where the header has three: the CSV source refuses the file.
    (root / "torn.csv").write_text("\n".join([*rows[:60], "1,2,3,4,5", *rows[60:]]) + "\n")
    model_dir = root / "model"
    proc = _train(*_csv_args(root / "good.csv"), f"--model_dir={model_dir}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (model_dir / MARKER).exists() and list((model_dir / "export").iterdir())
    return model_dir


def _csv_args(path: Path) -> tuple[str, ...]:
    return ("--source=csv", f"--train_files={path}", "--model=dnn", "--label_key=label")


def _snapshot(model_dir: Path) -> dict[str, int]:
    return {str(p.relative_to(model_dir)): p.stat().st_size for p in model_dir.rglob("*") if p.is_file()}


def test_a_run_that_fails_its_checks_leaves_the_previous_run_intact(csv_run):
    before = _snapshot(csv_run)
    proc = _train(*_csv_args(csv_run.parent / "torn.csv"), f"--model_dir={csv_run}", "--overwrite_model_dir")
    one_error_line(proc, "--train_files")
    assert _snapshot(csv_run) == before


def test_overwrite_replaces_a_kestrel_run(csv_run, tmp_path):
    old = tmp_path / "old-run"
    old.mkdir()
    for name in (MARKER, "checkpoint", "labels.txt", "stale.txt"):
        (old / name).write_text("earlier kestrel run")
    proc = _train(*_csv_args(csv_run.parent / "good.csv"), f"--model_dir={old}", "--overwrite_model_dir")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (old / "stale.txt").exists() and (old / MARKER).exists() and (old / "checkpoint").exists()
