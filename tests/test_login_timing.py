"""Login answers take as long for an unknown account as for a wrong password."""

import statistics
import time

import pytest


@pytest.fixture
def pichr_overrides():
    # A realistic hashing cost, so that the comparison measures the hashing.
    return {"auth": {"argon2_time_cost": 2, "argon2_memory_kib": 16384}}


def test_unknown_account_and_wrong_password_cost_the_same(pichr_client):
    user = pichr_client.signup()

    def login(email):
        t0 = time.perf_counter()
        r = pichr_client.post("/api/v1/auth/login", json={"email": email, "password": "nope-nope"})
        assert r.status == 401 and r.json["code"] == "invalid_credentials"
        return time.perf_counter() - t0

    known, unknown = [], []
    for _ in range(4):  # interleaved, so that machine noise hits both alike
        known.append(login(user["user"]["email"]))
        unknown.append(login("nobody-here@example.com"))
    ratio = statistics.median(unknown) / statistics.median(known)
    # Without the dummy hash an unknown account answers many times faster.
    assert 0.5 < ratio < 2.0, (known, unknown)
