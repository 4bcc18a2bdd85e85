"""The BUILD files say what the imports say: tools/gen_build.py --check finds nothing to rewrite."""

import pytest

from tools import gen_build

pytestmark = pytest.mark.small


def test_build_files_match_the_imports():
    # Under Bazel this file is a link into the workspace: the generator reads the real tree.
    write, gone = gen_build.stale(gen_build.ROOT)
    assert not write and not gone, f"out of date: {[str(p) for p in [*write, *gone]]}; run python3 tools/gen_build.py"
