"""Seeded crash test: random operations, kill -9 of ``serve --workers 2``, restart,
invariant (see tests/crashlib.py; ``scripts/crash-test --seeds 200`` runs hundreds)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The driver is shared with scripts/crash-test; the suite imports test files by path.
sys.path.insert(0, str(Path(__file__).parent))
from crashlib import run_seed  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.mark.timeout(240)
@pytest.mark.parametrize("seed", [11, 23, 37])
def test_acknowledged_writes_survive_kill_9(tmp_path, seed):
    summary = run_seed(seed, tmp_path, cycles=2)
    # The seed did real work: uploads of all three kinds were acknowledged or retried.
    assert summary["files"] > 0
    assert {"direct", "one", "multipart"} <= set(summary["ops"])
