"""common/ imports no TensorFlow: the flag layer reads it at start-up, before TensorFlow is needed.

The exceptions are documented in docs/CONTRIBUTING.md: common/files.py lists a gs:// folder and
common/writes.py writes a file through tf.io.gfile, each importing TensorFlow inside that function only.
"""

from __future__ import annotations

import ast
from pathlib import Path

COMMON = Path(__file__).resolve().parents[3] / "common"
# module -> the functions allowed to import TensorFlow inside themselves
LAZY_TENSORFLOW = {"files.py": {"_list_remote"}, "writes.py": {"write_whole"}}


def _tensorflow_imports(tree: ast.Module) -> list[tuple[str | None, int]]:
    """(enclosing function or None at module level, line) of every import of a tensorflow package."""
    found = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            names = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.module:
                names = [child.module]
            if any(name.split(".")[0].startswith("tensorflow") for name in names):
                found.append((function, child.lineno))
            visit(child, inner)

    visit(tree, None)
    return found


def test_no_common_module_imports_tensorflow_outside_the_documented_exception():
    modules = sorted(COMMON.glob("*.py"))
    assert len(modules) > 5  # the folder was found
    offending = []
    for path in modules:
        allowed = LAZY_TENSORFLOW.get(path.name, set())
        for function, line in _tensorflow_imports(ast.parse(path.read_text())):
            if function not in allowed:
                offending.append(f"common/{path.name}:{line}")
    assert not offending, f"TensorFlow imported in common/: {', '.join(offending)}"


def test_the_finder_sees_module_level_and_nested_imports():
    tree = ast.parse("import tensorflow as tf\ndef f():\n    from tensorflow.io import gfile\n")
    assert _tensorflow_imports(tree) == [(None, 1), ("f", 3)]
