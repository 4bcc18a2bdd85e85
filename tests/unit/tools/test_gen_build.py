"""tools/gen_build.py on small generated trees: targets, deps, visibility, test folders and sizes.

No ``pytestmark`` size here on purpose: a unit test file without one is small, in Bazel and in pytest alike.
"""

import ast
import textwrap
from pathlib import Path

import pytest

from tools import gen_build


def _linked(tmp_path, files: dict[str, str]) -> dict[str, str]:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return {str(p): text for p, text in gen_build.build_files(tmp_path).items()}


def test_direct_deps_pip_placeholder_cycles_and_visibility(tmp_path):
    out = _linked(
        tmp_path,
        {
            "pkg/__init__.py": '"""Docstring only: no target."""\n',
            "pkg/a.py": "import numpy\nfrom pkg import b\n",
            "pkg/b.py": "def f():\n    from pkg import a  # lazy: a cycle, one target\n",
            "pkg/c.py": "import os\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from other import x\n",
            "other/__init__.py": "import json\n",
            "other/x.py": "from pkg.c import os\n",
            "scripts/run.py": "from other import x\nif __name__ == '__main__':\n    pass\n",
        },
    )
    pkg = out["pkg/BUILD"]
    assert 'py_library(name = "a", srcs = ["a.py", "b.py"], deps = [' in pkg
    assert gen_build.THIRD_PARTY in pkg.split('name = "c"')[0]
    assert "//other:x" not in pkg  # a TYPE_CHECKING import is no dependency
    assert 'visibility = ["//other:__pkg__"]' in pkg
    assert '"//pkg:c"' in out["other/BUILD"] and 'name = "other"' in out["other/BUILD"]
    run = out["scripts/BUILD"]
    assert (
        'py_binary(name = "run", srcs = ["run.py"], deps = ["//other", "//other:x"])' in run
    )  # the package __init__ it runs


def test_check_mode_reports_a_stale_file(tmp_path, capsys):
    _linked(tmp_path, {"pkg/a.py": "import json\n"})
    assert gen_build.main(["--root", str(tmp_path)]) == 0
    assert gen_build.main(["--root", str(tmp_path), "--check"]) == 0
    (tmp_path / "pkg" / "b.py").write_text("from pkg import a\n")
    assert gen_build.main(["--root", str(tmp_path), "--check"]) == 1
    assert "out of date: pkg/BUILD" in capsys.readouterr().out


def test_tests_in_subfolders_get_their_own_build_file(tmp_path):
    out = _linked(
        tmp_path,
        {
            "tests/conftest.py": "import json\n",
            "tests/helper.py": "import json\n",
            "tests/pytest_main.py": "import pytest\n",
            "tests/e2e/test_a.py": 'import helper\nHARNESS = "helper.py"\n',
            "tests/e2e/test_b.py": "from conftest import REPO_ROOT\nfrom test_a import HARNESS\n",
            "tests/unit/pkg/test_c.py": "from pkg import c\n",
            "pkg/c.py": "import json\n",
        },
    )
    e2e = out["tests/e2e/BUILD"]
    assert 'load("//tests:defs.bzl", "kestrel_py_test")' in e2e
    assert 'kestrel_py_test(name = "test_a", data = ["//tests:helper"])' in e2e  # a helper of tests/ named as a file
    assert 'kestrel_py_test(name = "test_b", deps = [":test_a"])' in e2e  # by bare name; conftest is implicit
    assert 'kestrel_py_test(name = "test_c", size = "small", deps = ["//pkg:c"])' in out["tests/unit/pkg/BUILD"]
    assert 'exports_files(["pytest_main.py"])' in out["tests/BUILD"]  # the macro's main, named from every folder
    assert 'visibility = ["//tests:__subpackages__"]' in out["pkg/BUILD"]
    # No test imports conftest here: the macro's implicit dependency alone must make it visible.
    alone = _linked(
        tmp_path / "implicit", {"tests/conftest.py": "import json\n", "tests/e2e/test_d.py": "import json\n"}
    )
    conftest = 'py_library(name = "conftest", srcs = ["conftest.py"], visibility = ["//tests:__subpackages__"])'
    assert conftest in alone["tests/BUILD"]


def test_two_test_files_of_one_basename_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="share a name"):
        _linked(tmp_path, {"tests/e2e/test_a.py": "import json\n", "tests/unit/test_a.py": "import json\n"})


def test_a_tests_size_is_its_files_marker_else_its_layers(tmp_path):
    out = _linked(
        tmp_path,
        {
            "tests/unit/pkg/test_a.py": "import json\n",
            "tests/unit/pkg/test_b.py": "import json\nimport pytest\npytestmark = pytest.mark.medium\n",
            "tests/e2e/test_c.py": "import json\n",
            "tests/e2e/test_d.py": "import pytest\npytestmark = [pytest.mark.filterwarnings('x'), pytest.mark.large]\n",
        },
    )
    unit, e2e = out["tests/unit/pkg/BUILD"], out["tests/e2e/BUILD"]
    assert 'kestrel_py_test(name = "test_a", size = "small")' in unit  # the unit layer's default
    assert 'kestrel_py_test(name = "test_b", deps = [' in unit  # medium: the macro's default, not written
    assert 'kestrel_py_test(name = "test_c")' in e2e
    assert 'kestrel_py_test(name = "test_d", size = "large", deps = [' in e2e


def test_pytest_marks_each_test_with_the_size_bazel_runs_it_at(request):
    # This file declares no size on purpose: conftest.py must give it the unit layer's, as gen_build does.
    assert (
        gen_build.test_size(Path(__file__).resolve().relative_to(gen_build.ROOT), ast.parse(Path(__file__).read_text()))
        == "small"
    )
    assert [m.name for m in request.node.iter_markers() if m.name in gen_build.SIZES] == ["small"]


def test_a_tfds_builder_test_runs_itself_with_its_dummy_data(tmp_path):
    # `tfds new`'s layout: the DatasetBuilderTestCase beside its builder runs through tfds.testing.test_main.
    out = _linked(
        tmp_path,
        {
            "data/toy/toy_dataset_builder.py": "import tensorflow_datasets\n",
            "data/toy/toy_dataset_builder_test.py": "from data.toy import toy_dataset_builder\n",
        },
    )
    build = out["data/toy/BUILD"]
    assert 'py_test(name = "toy_dataset_builder_test", srcs = ["toy_dataset_builder_test.py"]' in build
    assert 'data = glob(["dummy_data/**"]), deps = [":toy_dataset_builder"]' in build
    assert 'py_library(name = "toy_dataset_builder",' in build
