"""No code outside a task's own module branches on a task's name: it asks the task's record or plug-in.

Compares with ==, !=, in or not in against a task name (the constant or its
string) are what adding a task would have to find and edit; common.tasks and
the plug-ins are where a task is allowed to name itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

from common import tasks

ROOT = Path(__file__).resolve().parents[4]
PACKAGES = ("benchmarks", "common", "estimators", "input_fns", "pipeline", "scripts", "tools")
OWN = ("estimators/tasks/",)
_NAMES = frozenset(n.upper() for n in tasks.TASKS)
_OPS = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)


def _names_a_task(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in tasks.TASKS
    if isinstance(node, ast.Name | ast.Attribute):
        return (node.id if isinstance(node, ast.Name) else node.attr) in _NAMES
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_names_a_task(e) for e in node.elts)
    return False


def name_branches(source: str) -> list[int]:
    """The lines of ``source`` that compare something with a task's name."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Compare)
        and any(isinstance(op, _OPS) for op in node.ops)
        and any(_names_a_task(side) for side in (node.left, *node.comparators))
    ]


def test_the_checker_finds_each_form_of_branch():
    found = name_branches(
        "a == REGRESSION\nb != tasks.CLASSIFICATION\nc in (SEGMENTATION, X)\nd == 'forecasting'\n"
        "e == task.metric\nf in self.trains\n"
    )
    assert found == [1, 2, 3, 4]


def test_no_module_outside_the_tasks_branches_on_a_task_name():
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(OWN):
                continue
            lines = name_branches(path.read_text())
            if lines:
                found[rel] = lines
    assert found == {}, f"ask the task (common.tasks record or estimators.tasks plug-in) instead: {found}"
