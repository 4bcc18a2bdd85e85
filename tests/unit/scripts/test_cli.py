"""scripts/cli.py's heavy-import context: the cycle collector paused inside, restored and the heap frozen after."""

from __future__ import annotations

import gc

import pytest

from scripts import cli

pytestmark = pytest.mark.small


@pytest.fixture
def gc_state():
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


@pytest.mark.parametrize("enabled_before", [True, False], ids=["enabled", "disabled"])
def test_the_collector_is_paused_inside_and_as_before_after(gc_state, enabled_before):
    (gc.enable if enabled_before else gc.disable)()
    with cli.imports_without_gc():
        assert not gc.isenabled()
    assert gc.isenabled() is enabled_before


def test_what_was_imported_is_frozen_out_of_later_collections(gc_state):
    gc.unfreeze()
    with cli.imports_without_gc():
        kept = [[i] for i in range(1000)]  # stands for the imported modules' objects
    assert gc.get_freeze_count() >= len(kept)


def test_an_import_that_fails_still_restores_the_collector(gc_state):
    gc.enable()
    with pytest.raises(ImportError), cli.imports_without_gc():
        import kestrel_no_such_module  # noqa: F401
    assert gc.isenabled()
