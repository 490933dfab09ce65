"""Fixtures: a key prefix of our own on the machine's Redis, and a private redis-server."""

import shutil
import subprocess
import time
import uuid

import pytest
import redis

from pichr_appliance.testing import free_port

MACHINE_REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix():
    """A fresh prefix; every key under it is deleted afterwards."""
    value = f"pichr-test-{uuid.uuid4().hex[:12]}:"
    yield value
    client = redis.Redis.from_url(MACHINE_REDIS)
    keys = list(client.scan_iter(match=value + "*"))
    if keys:
        client.delete(*keys)
    client.close()


class PrivateRedis:
    """A redis-server of our own, so that a test can stop and start it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self) -> "PrivateRedis":
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return self
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def private_redis():
    server = PrivateRedis().start()
    yield server
    server.stop()
