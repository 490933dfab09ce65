"""The receiver fixture."""

import pytest
from pichr_webhooks.testing import Receiver


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()
