"""GC tuning applied after startup: startup objects frozen, young collections less frequent."""

import gc
from collections.abc import Iterator

import pytest

from chatbot_api.core.gc import GEN0_THRESHOLD, tune_gc_after_startup


@pytest.fixture
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restore_gc")
def test_tune_gc_after_startup_freezes_live_objects_and_raises_gen0_threshold() -> None:
    gc.unfreeze()
    survivor = [object() for _ in range(10)]
    tune_gc_after_startup()
    assert gc.get_freeze_count() >= len(survivor)
    assert gc.get_threshold()[0] == GEN0_THRESHOLD
