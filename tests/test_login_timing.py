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


def test_signup_hashes_the_password_whether_or_not_the_email_is_taken(pichr_client, monkeypatch):
    taken = pichr_client.signup()["user"]
    passwords = pichr_client.runtime.passwords
    calls = []
    real = passwords.hash_sync
    monkeypatch.setattr(passwords, "hash_sync", lambda pw: calls.append(pw) or real(pw))

    def signup(email, username):
        body = {"email": email, "username": username, "password": "correct horse battery"}
        t0 = time.perf_counter()
        r = pichr_client.post("/api/v1/auth/signup", json=body)
        return r.status, time.perf_counter() - t0

    fresh, conflict = [], []
    for i in range(3):  # interleaved, so that machine noise hits both alike
        before = len(calls)
        status, spent = signup(taken["email"], f"someone{i}")
        assert status == 409 and len(calls) == before + 1  # the same work as a new one
        conflict.append(spent)
        status, spent = signup(f"new{i}@example.com", f"newuser{i}")
        assert status == 201 and len(calls) == before + 2
        fresh.append(spent)
        status, _ = signup(f"other{i}@example.com", taken["username"])
        assert status == 409 and len(calls) == before + 3
    ratio = statistics.median(conflict) / statistics.median(fresh)
    # Without hashing first a taken email answered ~50x faster than a new one. A new
    # account also writes the user and a session, which a loaded machine makes slower
    # (seen: 0.49), so the bounds only have to tell "same order" from "50x".
    assert 0.25 < ratio < 4.0, (fresh, conflict)
