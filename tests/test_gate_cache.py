"""The gate remembers its verdict: unchanged data is not validated twice, and TFDV and Beam are not even imported.

Driven through ``python -m scripts.train`` on a small generated image folder: the first run
validates, the second (a fresh model_dir) recalls the verdict, and a changed file or a
changed gate setting validates again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT

RECALLED = "(unchanged since validated: same files, schema and settings; TFDV not run)"


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    from PIL import Image

    root = tmp_path_factory.mktemp("gate_cache_images")
    rng = np.random.default_rng(0)
    for label, name in enumerate(("cat", "dog")):
        (root / name).mkdir()
        for i in range(8):
            pixels = rng.integers(0, 60, (8, 8, 3), np.uint8) + np.uint8(150 * label)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def _train(images: Path, cache: Path, model_dir: Path, *extra: str, importtime: bool = False):
    args = [f"--image_dir={images}", "--source=image_folder", "--image_size=8", f"--model_dir={model_dir}"]
    args += ["--train_steps=2", "--noreport", "--eval_throttle_secs=0", f"--gate_cache_dir={cache}", *extra]
    python = [sys.executable, *(["-X", "importtime"] if importtime else [])]
    result = subprocess.run(
        [*python, "-m", "scripts.train", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _imported(stderr: str) -> set[str]:
    """Top-level packages in ``python -X importtime``'s report (``import time: self | cumulative | name``)."""
    names = (line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:"))
    return {name.split(".")[0] for name in names}


def test_unchanged_data_is_recalled_without_tfdv_and_a_change_validates_again(images, tmp_path):
    cache = tmp_path / "cache"
    first = _train(images, cache, tmp_path / "first")
    assert "validating span 0" in first.stdout and RECALLED not in first.stdout

    # A fresh model_dir on the same files: the verdict and its artifacts, TFDV and Beam never loaded.
    again = _train(images, cache, tmp_path / "again", importtime=True)
    assert "validation: 16 examples clean " + RECALLED in again.stdout, again.stdout
    imported = _imported(again.stderr)
    assert "tensorflow" in imported  # the report is real
    assert not imported & {"tensorflow_data_validation", "apache_beam", "tfx_bsl"}, imported
    span = tmp_path / "again" / "validation" / "spans" / "span-0"
    assert (span / "report.html").is_file() and (span / "statistics.pb").is_file()

    # A gate setting the verdict depends on: validated again.
    stricter = _train(images, cache, tmp_path / "stricter", "--max_bad_record_fraction=0.01")
    assert "validating span 0" in stricter.stdout and RECALLED not in stricter.stdout

    # One file rewritten (new bytes, new modification time): validated again, then remembered anew.
    target = images / "dog" / "0.png"
    target.write_bytes(target.read_bytes())
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))
    changed = _train(images, cache, tmp_path / "changed")
    assert "validating span 0" in changed.stdout and RECALLED not in changed.stdout
    assert RECALLED in _train(images, cache, tmp_path / "changed_again").stdout
