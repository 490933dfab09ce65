"""Fixtures: a key prefix of our own on the shared Redis (``PICHR_TEST_REDIS_URL``, see
``pichr_redis.testing``), and a private redis-server. A missing one fails the tests that
need it with one line saying what is missing and how to provide it."""

import subprocess
import time
import uuid

import pytest
import redis
from pichr_redis import testing

from pichr_appliance.testing import free_port


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The shared Redis server, checked once: unreachable fails with the fix."""
    url = testing.shared_url()
    problem = testing.unreachable_reason(url)
    if problem:
        pytest.fail(problem, pytrace=False)
    return url


@pytest.fixture(scope="session")
def redis_server_binary() -> str:
    """``redis-server`` for private servers; missing fails with the fix."""
    problem = testing.missing_binary_reason()
    if problem:
        pytest.fail(problem, pytrace=False)
    return testing.redis_server_binary()


@pytest.fixture
def prefix(redis_url):
    """A fresh prefix; every key under it is deleted afterwards."""
    value = f"pichr-test-{uuid.uuid4().hex[:12]}:"
    yield value
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=value + "*"))
    if keys:
        client.delete(*keys)
    client.close()


class PrivateRedis:
    """A redis-server of our own, so that a test can stop and start it."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self) -> "PrivateRedis":
        self.proc = subprocess.Popen(
            [
                self.binary,
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
def private_redis(redis_server_binary):
    server = PrivateRedis(redis_server_binary).start()
    yield server
    server.stop()
