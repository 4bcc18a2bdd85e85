"""Hostile files: truncated, huge-header and non-image bytes never crash or exhaust memory; no pickle loads."""

from __future__ import annotations

import functools
import io
import resource
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from support import REPO_ROOT, cats_and_dogs, jpeg

from common.names import SERVING_KEY
from common.params import TRAIN, VALIDATION
from input_fns import image_folder
from input_fns.preprocessing import ImageSpec, decode_image, header_pixels

pytestmark = pytest.mark.medium

HUGE = 20_000


def _png(width: int, height: int, pixels: bytes | None = None) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    raw = pixels if pixels is not None else b"".join(b"\0" + b"\x80" * width for _ in range(min(height, 4)))
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


@functools.lru_cache(maxsize=1)
def _valid_huge_png(side: int = HUGE) -> bytes:
    """A complete, valid side x side 8-bit grayscale PNG of zeros that TF's own decoder accepts.

    Its rows compress about 1000:1, so the file is some 400 KB while decoding it takes
    side^2 bytes (400 MB; 1.2 GB as RGB): only kestrel's pixel bound stops it.
    """
    compressor = zlib.compressobj(9)
    row = b"\0" * (side + 1)  # filter byte 0, then the row's pixels
    idat = b"".join([*(compressor.compress(row) for _ in range(side)), compressor.flush()])
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bmp(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 64, 0, 0, 54) + info + b"\0" * 64


def _jpeg(size: int = 16) -> bytes:
    return jpeg(np.zeros((size, size, 3), np.uint8))


HOSTILE = {
    "huge.png": _png(HUGE, HUGE),
    "huge_valid.png": _valid_huge_png(),
    "huge.bmp": _bmp(HUGE, HUGE),
    "huge_topdown.bmp": _bmp(HUGE, -HUGE),
    "huge.gif": b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\0" * 16,
    "truncated.png": _png(16, 16)[:40],
    "truncated.jpg": _jpeg()[:60],
    "text.png": b"this is not an image at all\n" * 10,
    "empty.jpg": b"",
}


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_header_pixels_reads_each_format():
    assert int(header_pixels(_png(7, 5))) == 35
    assert int(header_pixels(_bmp(6, -4))) == 24
    assert int(header_pixels(_jpeg(16))) == 256
    assert int(header_pixels(b"junk")) == 0
    assert int(header_pixels(HOSTILE["huge.png"])) == HUGE * HUGE


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_bytes_fail_cleanly_without_allocating(name):
    before = _max_rss_mb()
    with pytest.raises(tf.errors.InvalidArgumentError):
        decode_image(tf.constant(HOSTILE[name]), 3)
    assert _max_rss_mb() - before < 300  # a decoded 20,000^2 RGB image would be 1.2 GB


def test_good_images_still_decode():
    assert decode_image(tf.constant(_png(7, 5, b"".join(b"\0" + b"\x10" * 7 for _ in range(5)))), 1).shape == (5, 7, 1)
    assert decode_image(tf.constant(_jpeg()), 3).shape == (16, 16, 3)


def test_image_folder_check_skips_and_counts_hostile_files(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            (tmp_path / cls / f"good{i}.jpg").write_bytes(_jpeg())
    for name, data in HOSTILE.items():
        (tmp_path / "a" / name).write_bytes(data)
    before = _max_rss_mb()
    folder = image_folder.load(str(tmp_path), val_fraction=0.3, seed=1, max_bad_fraction=1.0)
    assert _max_rss_mb() - before < 300
    assert sorted(p.rsplit("/", 1)[-1] for p in folder.skipped) == sorted(HOSTILE)
    assert len(folder.splits[TRAIN]) + len(folder.splits[VALIDATION]) == 6


def test_serving_signature_rejects_a_huge_header_and_keeps_serving(tmp_path):
    from estimators.serving import Serving
    from estimators.serving import keras_export as export

    spec = ImageSpec(8, 8, 3)
    inputs = tf.keras.Input(spec.shape, name="image")
    outputs = tf.keras.layers.Dense(2, activation="softmax", name="out")(tf.keras.layers.Flatten(name="f")(inputs))
    model = tf.keras.Model({"image": inputs}, outputs)
    path = export.export_keras_model(model, str(tmp_path), Serving(("a", "b"), "image", spec))
    serve = tf.saved_model.load(path).signatures[SERVING_KEY]
    before = _max_rss_mb()
    for name in ("huge.png", "huge_valid.png", "huge.bmp", "text.png"):
        with pytest.raises(tf.errors.InvalidArgumentError):
            serve(image_bytes=tf.constant([HOSTILE[name]]))
    assert _max_rss_mb() - before < 300
    assert serve(image_bytes=tf.constant([_jpeg()]))["probabilities"].shape == (1, 2)


def test_pickle_bearing_npy_and_npz_are_refused(tmp_path):
    """The bottleneck cache is the one user-reachable np.load: it must not unpickle (run code)."""
    from estimators.stages import bottleneck

    payload = np.array([{"x": 1}], dtype=object)  # an object array is stored as a pickle
    npz = tmp_path / "features.npz"
    buffer = io.BytesIO()
    np.savez(buffer, features=payload, labels=np.zeros(1))
    npz.write_bytes(buffer.getvalue())

    def never(*args, **kwargs):
        raise AssertionError("the cache hit should not compute features")

    with pytest.raises(ValueError, match="allow_pickle"):
        bottleneck.cached_features(None, never, "image", str(npz))
    npy = tmp_path / "x.npy"
    np.save(npy, payload)
    with pytest.raises(ValueError, match="allow_pickle"):
        np.load(npy, allow_pickle=False)


# --- through the front door: scripts.train on an image folder holding the valid huge PNG ----------------

MEMORY_BOUND_MB = 1024  # the run itself peaks near 650 MB; decoding the PNG (1.2 GB as RGB) cannot fit


# A tiny launcher runs the trainer and reports RUSAGE_CHILDREN: measuring the trainer from pytest
# itself (wait4) would count pytest's own peak, because the child shares pytest's memory until exec.
_LAUNCHER = (
    "import resource, subprocess, sys; "
    "code = subprocess.call(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
    "sys.exit(code)"
)


def _run_measured(args: list[str], tmp_path: Path) -> tuple[int, str, str, float]:
    """``python -m scripts.train args``: exit status, stdout, stderr and the trainer's own peak RSS in MB."""
    out, err, rss = tmp_path / "stdout", tmp_path / "stderr", tmp_path / "launcher.rss"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        code = subprocess.call(
            [sys.executable, "-c", _LAUNCHER, str(rss), sys.executable, "-m", "scripts.train", *args],
            cwd=REPO_ROOT,
            stdout=stdout,
            stderr=stderr,
        )
    return code, out.read_text(), err.read_text(), int(rss.read_text()) / 1024


def test_training_on_a_folder_with_a_valid_huge_png_skips_it_by_name_in_bounded_memory(tmp_path):
    images = cats_and_dogs(tmp_path / "images", 6, 0)
    huge = images / "cat" / "huge.png"
    huge.write_bytes(_valid_huge_png())
    args = [f"--image_dir={images}", f"--model_dir={tmp_path / 'model'}", "--source=image_folder", "--image_size=8"]
    # One bad file in 13 is above the default --max_bad_record_fraction (0.05): allow it, to train.
    args += ["--train_steps=2", "--novalidate_data", "--noreport", "--eval_throttle_secs=0"]
    args += ["--max_bad_record_fraction=0.1"]

    code, stdout, stderr, peak_mb = _run_measured(args, tmp_path)
    assert code == 0, stderr[-3000:]
    assert peak_mb < MEMORY_BOUND_MB, f"peak RSS {peak_mb:.0f} MB: the 20,000 x 20,000 PNG was decoded"
    # Skipped and counted by name, not trained on: 12 good images + the huge one.
    skipped = [line for line in stderr.splitlines() if "12 images used; 1 skipped: 1 too large" in line]
    assert len(skipped) == 1 and skipped[0].endswith("(cat/huge.png)"), stderr[-3000:]
