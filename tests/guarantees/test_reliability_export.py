"""Atomic exports: a failure or a SIGKILL mid-export leaves no numbered SavedModel and the previous one intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from support import REPO_ROOT

from estimators.serving import Serving
from estimators.serving import keras_export as export
from estimators.serving import receivers as serving
from input_fns.preprocessing import ImageSpec

pytestmark = pytest.mark.medium

SPEC = ImageSpec(8, 8, 1)
HOW = Serving(class_names=("a", "b"), input_name="image", image=SPEC)


def _model() -> tf.keras.Model:
    inputs = tf.keras.Input(SPEC.shape, name="image")
    x = tf.keras.layers.Flatten(name="flat")(inputs)
    return tf.keras.Model({"image": inputs}, tf.keras.layers.Dense(2, activation="softmax", name="out")(x))


def _probabilities(export_dir: str) -> np.ndarray:
    loaded = tf.saved_model.load(export_dir)
    fn = loaded.signatures[serving.FLOAT_SIGNATURE]
    return fn(images=tf.ones([1, *SPEC.shape]))["probabilities"].numpy()


def test_failed_export_leaves_nothing_and_keeps_the_previous(tmp_path, monkeypatch):
    base = str(tmp_path / "export" / "latest")
    model = _model()
    first = export.export_keras_model(model, base, HOW)
    before = _probabilities(first)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    # The asset step fails after the SavedModel itself is written: the half-done export must vanish.
    monkeypatch.setattr(serving, "write_labels", disk_full)
    model.get_layer("out").kernel.assign(tf.zeros_like(model.get_layer("out").kernel))
    with pytest.raises(OSError, match="No space left"):
        export.export_keras_model(model, base, HOW)
    assert export.numbered_exports(base) == [first]
    assert sorted(os.listdir(base)) == [os.path.basename(first)]  # no temp- directory left either
    np.testing.assert_allclose(_probabilities(first), before)
    assert serving.read_labels(first) == ("a", "b")


_KILLED_EXPORT = """
import os, signal, sys
sys.path.insert(1, "tests")  # the test module imports its helpers (support) as pytest lets it
from estimators.serving import keras_export as export
from estimators.serving import receivers as serving
from tests.guarantees.test_reliability_export import HOW, _model

base = sys.argv[1]
model = _model()
print(export.export_keras_model(model, base, HOW), flush=True)

def killed(directory, class_names):
    # The SavedModel is on disk, its labels not yet: the worst moment to die.
    os.kill(os.getpid(), signal.SIGKILL)

serving.write_labels = killed
export.export_keras_model(model, base, HOW)
"""


def test_sigkill_mid_export_leaves_only_a_temp_dir(tmp_path):
    base = str(tmp_path / "export" / "latest")
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLED_EXPORT), base],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    first = result.stdout.strip().splitlines()[-1]
    names = sorted(os.listdir(base))
    # The killed export is a temp- directory that serving and numbered_exports ignore.
    assert [n for n in names if n.isdigit()] == [os.path.basename(first)]
    assert any(n.startswith(export.TEMP_PREFIX) for n in names)
    assert export.numbered_exports(base) == [first]
    assert serving.read_labels(first) == ("a", "b")
    assert _probabilities(first).shape == (1, 2)


_KILLED_PUSH = """
import os, shutil, signal, sys
from pipeline.retraining import push

serving_root, first, second = sys.argv[1:4]
serving = push.ServingDir(serving_root, "digits")
serving.push(first, 1, keep=5)
print("pushed 1", flush=True)
copied = []
copyfile = shutil.copyfile

def dying_copyfile(src, dst, *args, **kwargs):
    # The second file of the copy is half written when the push dies: one file whole, the rest missing.
    if copied:
        with open(src, "rb") as f:
            data = f.read()
        with open(dst, "wb") as f:
            f.write(data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    copied.append(src)
    return copyfile(src, dst, *args, **kwargs)

shutil.copyfile = dying_copyfile  # what shutil.copytree copies each file with (through copy2)
serving.push(second, 2, keep=5)
"""


def _check_serving_dir(root: str) -> list[str]:
    """Every numbered version is a whole SavedModel; anything else is hidden (TF Serving ignores it)."""
    names = sorted(os.listdir(root))
    for name in names:
        if name.isdigit():
            assert serving.read_labels(os.path.join(root, name)) == ("a", "b")
            assert _probabilities(os.path.join(root, name)).shape == (1, 2)
        else:
            assert name.startswith("."), f"{name}: not a version number and not hidden"
    return names


def test_sigkill_mid_push_never_publishes_a_partial_version(tmp_path):
    from pipeline.retraining import push

    model = _model()
    first = export.export_keras_model(model, str(tmp_path / "exports"), HOW)
    model.get_layer("out").kernel.assign(tf.zeros_like(model.get_layer("out").kernel))
    second = export.export_keras_model(model, str(tmp_path / "exports"), HOW)
    root = str(tmp_path / "serving")
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLED_PUSH), root, first, second],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == -signal.SIGKILL and result.stdout.strip() == "pushed 1", result.stderr[-2000:]
    names = _check_serving_dir(os.path.join(root, "digits"))
    # The killed copy is there, hidden and partial; version 1 is served as it was.
    assert names[0].startswith(push.INCOMING_PREFIX) and names[1:] == ["1"]
    served = push.ServingDir(root, "digits")
    assert served.versions() == [1]
    np.testing.assert_allclose(_probabilities(served.path(1)), _probabilities(first))
    # The next push cleans the leftovers up and publishes a whole version 2.
    served.push(second, served.next_version(), keep=5)
    assert _check_serving_dir(served.root) == ["1", "2"]
    np.testing.assert_allclose(_probabilities(served.path(2)), _probabilities(second))
