"""A 60-second soak (bench/bench_soak.py) through ``serve --workers 2``: mixed load from
a few clients, then every surviving file's bytes verified. Figures are reported by the
script, never asserted here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from bench_soak import run_soak  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.mark.timeout(300)
def test_a_minute_of_mixed_load_has_no_unexpected_answer_and_keeps_every_byte():
    res = run_soak(clients=8, seconds=60, workers=2)
    assert res["unexpected"] == 0, res["unexpectedSample"]
    assert res["mismatched"] == 0
    assert res["verified"] > 0
    # Every kind of the mix ran (uploads of the three kinds, reads, writes).
    assert {"direct", "one", "multipart", "original", "variant", "patch"} <= set(res["kinds"])
