"""Real `pichr-appliance serve` processes: the outbox survives a restart, the CLI
revives dead deliveries, and two worker processes deliver each event once."""

import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from pichr_webhooks import verify
from pichr_webhooks.testing import Receiver

from pichr_appliance.testing import LiveServer, free_port, sample_image_bytes

SECRET = "live-secret-0123456789"

CONFIG = """
[plugin.webhooks]
backoff_base = 0.2
backoff_cap = 0.5
jitter = 0
poll_interval = 0.1
timeout = 3

[[plugin.webhooks.endpoints]]
name = "receiver"
url = "http://127.0.0.1:{port}/hook"
secret = {{ "$env" = "TEST_HOOK_SECRET" }}
"""


def cli(env, data, *args):
    out = subprocess.run(
        [sys.executable, "-m", "pichr_appliance", *args, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def deliveries(env, data):
    return json.loads(cli(env, data, "webhooks", "list", "--json"))


def eventually(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.slow
def test_outbox_survives_restart_and_dead_deliveries_can_be_retried(tmp_path):
    port = free_port()
    config = tmp_path / "pichr.toml"
    config.write_text(CONFIG.format(port=port))
    data = tmp_path / "data"
    env = {"PICHR_CONFIG": str(config), "TEST_HOOK_SECRET": SECRET}

    # 1. Nobody listens yet: two attempts, then the delivery is dead.
    first = LiveServer(data, env={**env, "PICHR_PLUGIN__WEBHOOKS__MAX_ATTEMPTS": "2"})
    first.start(timeout=60)
    try:
        body = {
            "email": "live@example.com",
            "password": "correct horse battery",
            "username": "live",
            "firstName": "L",
            "lastName": "V",
            "ageConfirmed": True,
        }
        r = httpx.post(first.url + "/api/v1/auth/signup", json=body)
        assert r.status_code == 201
        token = r.json()["session"]["access_token"]
        eventually(lambda: [d["status"] for d in deliveries(env, data)] == ["dead"])
    finally:
        first.stop()
    (dead,) = deliveries(env, data)
    assert dead["event"] == "user_created" and dead["attempts"] == 2
    assert "Connect" in dead["lastError"]

    # 2. The operator sends it again; the receiver is up; two workers now serve.
    assert "1 delivery queued again" in cli(env, data, "webhooks", "retry", "--all-dead")
    receiver = Receiver(port).start()
    second = LiveServer(data, env=env, args=["--workers", "2"])
    second.start(timeout=60)
    try:
        image = sample_image_bytes("PNG")
        h = {"Authorization": f"Bearer {token}"}
        p = httpx.post(
            second.url + "/api/v1/upload/presign",
            headers=h,
            json={"filename": "a.png", "mime": "image/png", "bytes": len(image)},
        ).json()
        assert httpx.put(p["uploadUrl"], content=image).status_code == 200
        eventually(lambda: len(receiver.events()) >= 2)
        time.sleep(1.0)  # time for a duplicate to show up, if there were one
    finally:
        second.stop()
        receiver.stop()
    assert sorted(receiver.events()) == ["file_uploaded", "user_created"]
    for req in receiver.requests:
        assert verify(SECRET, req["headers"]["x-pichr-signature"], req["body"])
    assert {d["status"] for d in deliveries(env, data)} == {"delivered"}
