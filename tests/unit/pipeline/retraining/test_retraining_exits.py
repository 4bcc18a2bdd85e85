"""The exit status table is the one docs/retraining.md prints."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import REPO_ROOT

pytestmark = pytest.mark.small


def test_the_exit_status_table_is_the_one_docs_print():

    from pipeline.retraining import exits, flow, lock

    doc = (Path(REPO_ROOT) / "docs" / "retraining.md").read_text()
    assert exits.markdown_table() in doc
    assert (flow.VALIDATION_EXIT, flow.NOT_BLESSED_EXIT, lock.ALREADY_RUNNING_EXIT) == (
        exits.REFUSED_DATA,
        exits.NOT_BLESSED,
        exits.ALREADY_RUNNING,
    )
