"""pichr-webhooks through the real app, against a real receiver on loopback."""

import asyncio
import time
from dataclasses import replace

import pytest
from pichr_webhooks import Delivery, Worker, enqueue, signature_header, verify, webhooks_config

from pichr_appliance.config import ConfigError, load_settings
from pichr_appliance.db import tortoise_config
from pichr_appliance.models import User
from pichr_appliance.plugins import get_plugin_manager
from pichr_appliance.testing import make_settings, sample_image_bytes

SECRET = "s3cret-for-the-tests-only"
OTHER_SECRET = "another-secret-of-16+"
FAST = {"backoff_base": 0.3, "jitter": 0, "poll_interval": 0.05, "timeout": 5}


@pytest.fixture
def policy():
    """Delivery settings for one test (parametrize to change them)."""
    return {}


@pytest.fixture
def pichr_overrides(receiver, policy):
    return {
        "plugin": {
            "webhooks": {
                "endpoints": [
                    {"name": "all", "url": receiver.url, "secret": SECRET},
                    {
                        "name": "albums",
                        "url": receiver.url + "?albums",
                        "secret": OTHER_SECRET,
                        "events": ["album_created"],
                    },
                ],
                **FAST,
                **policy,
            }
        }
    }


def wait_until(client, condition, timeout=15.0):
    """Let the server's loop (and so the delivery worker) run until ``condition()``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        client.run(asyncio.sleep(0.05))


def rows(client, **filters):
    return client.run(Delivery.filter(**filters).order_by("created_at"))


def test_every_event_is_signed_and_delivered_once(pichr_client, receiver):
    user = pichr_client.signup("hooked")
    h = user["headers"]
    f = pichr_client.upload(user)
    assert pichr_client.post("/api/v1/albums", headers=h, json={"title": "Trip"}).status == 201
    mod = pichr_client.signup("mod")
    pichr_client.run(User.filter(id=mod["user"]["id"]).update(role="moderator"))
    report = pichr_client.post(
        "/api/v1/moderation/report", headers=h, json={"fileId": f["id"], "reason": "spam"}
    ).json["id"]
    r = pichr_client.post(
        f"/api/v1/moderation/reports/{report}/resolve",
        headers=mod["headers"],
        json={"action": "age_restrict"},
    )
    assert r.status == 200
    assert pichr_client.delete(f"/api/v1/files/{f['id']}", headers=h).status == 204

    expected = [
        "user_created",
        "file_uploaded",
        "album_created",
        "user_created",
        "report_created",
        "file_moderated",
        "file_deleted",
    ]
    wait_until(pichr_client, lambda: len(receiver.requests) >= len(expected) + 1)
    pichr_client.run(asyncio.sleep(0.3))  # nothing more comes
    to_all = [r for r in receiver.requests if r["path"] == "/hook"]
    to_albums = [r for r in receiver.requests if r["path"] == "/hook?albums"]
    assert sorted(r["json"]["event"] for r in to_all) == sorted(expected)
    assert [r["json"]["event"] for r in to_albums] == ["album_created"]
    for req, secret in [(r, SECRET) for r in to_all] + [(r, OTHER_SECRET) for r in to_albums]:
        headers = req["headers"]
        assert headers["content-type"] == "application/json"
        assert headers["x-pichr-event"] == req["json"]["event"]
        assert verify(secret, headers["x-pichr-signature"], req["body"])
        assert not verify("wrong-secret-xxxxxxxx", headers["x-pichr-signature"], req["body"])
        assert not verify(secret, headers["x-pichr-signature"], req["body"] + b" ")
    assert len({r["headers"]["x-pichr-delivery"] for r in receiver.requests}) == len(expected) + 1
    by_event = {r["json"]["event"]: r["json"] for r in to_all}
    assert by_event["file_uploaded"]["data"]["file"]["id"] == f["id"]
    assert by_event["file_moderated"]["data"]["action"] == "age_restrict"
    assert by_event["file_moderated"]["data"]["actor"]["id"] == mod["user"]["id"]
    assert by_event["file_deleted"]["data"]["actor"]["id"] == user["user"]["id"]
    assert by_event["report_created"]["data"]["report"]["reason"] == "spam"
    assert to_albums[0]["json"]["id"] == by_event["album_created"]["id"]  # one event, two copies
    assert {r.status for r in rows(pichr_client)} == {"delivered"}


@pytest.mark.parametrize("policy", [{"max_attempts": 5}])
def test_failures_are_retried_with_exponential_backoff(pichr_client, receiver):
    receiver.statuses = [500, 503]
    pichr_client.signup("retry")
    wait_until(pichr_client, lambda: [r.status for r in rows(pichr_client)] == ["delivered"])
    times = [r["at"] for r in receiver.requests]
    assert [r["status"] for r in receiver.requests] == [500, 503, 200]
    first_wait, second_wait = times[1] - times[0], times[2] - times[1]
    assert 0.3 <= first_wait < 1.0  # backoff_base (plus polling and a loaded machine)
    assert 0.6 <= second_wait < 1.5  # doubled
    (row,) = rows(pichr_client)
    assert (row.status, row.attempts, row.last_status) == ("delivered", 3, 200)


@pytest.mark.parametrize("policy", [{"max_attempts": 3, "backoff_base": 0.1}])
def test_dead_after_max_attempts(pichr_client, receiver):
    receiver.statuses = [500] * 10
    pichr_client.signup("doomed")
    wait_until(pichr_client, lambda: [r.status for r in rows(pichr_client)] == ["dead"])
    pichr_client.run(asyncio.sleep(0.5))
    assert len(receiver.requests) == 3
    (row,) = rows(pichr_client)
    assert (row.attempts, row.last_status, row.last_error) == (3, 500, "HTTP 500")


def test_requests_never_wait_for_the_receiver(pichr_client, receiver):
    receiver.delay = 3.0
    user = pichr_client.signup("quick")  # its user_created is now being POSTed, slowly
    started = time.monotonic()
    for color in ((1, 2, 3), (4, 5, 6)):
        pichr_client.upload(user, sample_image_bytes("PNG", color=color))
    assert time.monotonic() - started < 2.0
    assert len(rows(pichr_client)) == 3


def test_competing_workers_deliver_each_event_once(tmp_path, receiver):
    """Three workers drain one outbox at once (as the workers of several processes do:
    the claim is a compare-and-set in the database, not a lock in memory)."""
    from pichr_appliance.db import database

    endpoint = {"url": receiver.url, "secret": SECRET}
    settings = make_settings(tmp_path / "d", {"plugin": {"webhooks": {"endpoints": [endpoint]}}})
    config = webhooks_config(settings)

    async def race():
        async with database(settings, get_plugin_manager(settings)):
            for i in range(30):
                await enqueue(config, "user_created", {"n": i})
            workers = [Worker(config) for _ in range(3)]
            for w in workers:
                w.config = replace(config, batch=4)
            counts = [0, 0, 0]

            async def drain(i):
                while await Delivery.filter(status="pending").exists():
                    counts[i] += await workers[i].run_once()

            await asyncio.gather(*(drain(i) for i in range(3)))
            for w in workers:
                await w.close()
            return counts, {r.status for r in await Delivery.all()}

    counts, statuses = asyncio.run(race())
    assert sum(counts) == 30 and statuses == {"delivered"}
    assert sorted(r["json"]["data"]["n"] for r in receiver.requests) == list(range(30))
    assert len([c for c in counts if c]) > 1  # they really competed


def test_signature_format():
    body = b'{"event":"x"}'
    header = signature_header(SECRET, body, timestamp=1700000000)
    import hashlib
    import hmac

    mac = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={mac}"
    assert not verify(SECRET, header, body)  # too old: replay protection
    assert verify(SECRET, header, body, tolerance=10**10)


def test_inert_without_endpoints(tmp_path):
    settings = make_settings(tmp_path / "d")
    assert webhooks_config(settings) is None
    assert "pichr_webhooks" not in tortoise_config(settings, get_plugin_manager(settings))["apps"]


def test_secrets_come_from_the_environment(tmp_path):
    section = {
        "endpoints": [
            {"url": "https://example.com/h", "secret": {"$env": "HOOK_SECRET"}},
        ]
    }
    settings = load_settings(
        data_dir=tmp_path,
        environ={"HOOK_SECRET": "from-the-environment"},
        extra={"plugin": {"webhooks": section}},
    )
    (endpoint,) = webhooks_config(settings).endpoints
    assert endpoint.secret == "from-the-environment"
    assert endpoint.name == "https://example.com/h" and "file_deleted" in endpoint.events
    with pytest.raises(ConfigError, match="HOOK_SECRET"):
        load_settings(data_dir=tmp_path, environ={}, extra={"plugin": {"webhooks": section}})


@pytest.mark.parametrize(
    "section, message",
    [
        ({"endpoints": [{"url": "ftp://x/", "secret": SECRET}]}, r"endpoints\[0\].url"),
        ({"endpoints": [{"url": "http://x/", "secret": "short"}]}, r"endpoints\[0\].secret"),
        (
            {"endpoints": [{"url": "http://x/", "secret": SECRET, "events": ["file_viewed"]}]},
            "file_viewed",
        ),
        (
            {"endpoints": [{"url": "http://x/", "secret": SECRET}] * 2},
            "two endpoints",
        ),
        ({"endpoints": [], "max_attempts": 0}, "max_attempts"),
        ({"endpoints": [], "retries": 3}, "retries"),
    ],
)
def test_bad_settings_name_the_key(tmp_path, section, message):
    with pytest.raises(ConfigError, match=message):
        webhooks_config(make_settings(tmp_path / "d", {"plugin": {"webhooks": section}}))
