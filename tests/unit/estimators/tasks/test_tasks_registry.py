"""Every task in common.tasks loads its plug-in module, and the loader's Bazel list names the same modules."""

from __future__ import annotations

import pytest

from common import tasks
from common.errors import UsageError
from estimators import tasks as plugins
from estimators.tasks.base import TaskPlugin


@pytest.mark.parametrize("name", list(tasks.TASKS))
def test_each_task_loads_its_own_plugin(name):
    plugin = plugins.load(name)
    assert isinstance(plugin, TaskPlugin)
    assert plugin.name == name
    assert plugin.task is tasks.TASKS[name]
    assert plugins.load(tasks.TASKS[name]) is plugin  # by record too, and once


def test_the_loader_names_every_task_module_for_bazel():
    # gen_build makes a dependency of each "module:attribute" string: a task missing there is missing under Bazel.
    assert sorted(p.split(":")[0] for p in plugins.PLUGINS) == sorted(t.module for t in tasks.TASKS.values())


def test_an_unknown_task_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown task 'ranking'; allowed: classification, regression"):
        plugins.load("ranking")
