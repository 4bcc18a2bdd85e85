"""Pushing to the serving folder: atomic, numbered, pruned; rollback."""

from __future__ import annotations

import os

import pytest

from common.errors import UsageError
from pipeline.retraining import push

pytestmark = pytest.mark.small


def _write(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _export(tmp_path, name):
    export = tmp_path / "exports" / name
    _write(export / "saved_model.pb", name)
    _write(export / "variables" / "variables.index", name)
    return str(export)


def test_push_is_atomic_numbered_and_keeps_newest(tmp_path):
    serving = push.ServingDir(str(tmp_path / "serving"), "digits")
    assert serving.served() is None and serving.next_version() == 1
    (tmp_path / "serving" / "digits" / ".incoming-7-1").mkdir(parents=True)  # a killed push's leftovers
    for version in (1, 2, 3):
        path, pruned = serving.push(_export(tmp_path, f"e{version}"), serving.next_version(), keep=2)
        assert path.endswith(f"/digits/{version}")
    assert pruned == [1]
    assert serving.versions() == [2, 3] and serving.served() == 3
    assert sorted(os.listdir(serving.root)) == ["2", "3"]  # no .incoming left behind
    assert (tmp_path / "serving" / "digits" / "3" / "saved_model.pb").read_text() == "e3"
    with pytest.raises(UsageError, match="already exists"):
        serving.push(_export(tmp_path, "again"), 3, keep=2)


def test_rollback_moves_newer_versions_aside_and_never_reuses_numbers(tmp_path):
    serving = push.ServingDir(str(tmp_path / "serving"), "digits")
    for version in (1, 2, 3):
        serving.push(_export(tmp_path, f"e{version}"), version, keep=5)
    assert serving.rollback() == (2, [3])
    assert serving.served() == 2 and serving.rolled_back() == [3]
    assert serving.rollback(to_version=1) == (1, [2])
    assert serving.served() == 1 and serving.next_version() == 4
    assert serving.rollback(to_version=3) == (3, [])  # forward again, from the set-aside copy
    assert serving.versions() == [1, 3] and serving.rolled_back() == [2]
    with pytest.raises(UsageError, match="version 9 is not kept"):
        serving.rollback(to_version=9)
    lone = push.ServingDir(str(tmp_path / "serving"), "lone")
    lone.push(_export(tmp_path, "only"), 1, keep=5)
    with pytest.raises(UsageError, match="no earlier version"):
        lone.rollback()
