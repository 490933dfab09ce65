"""One sweeper for the whole site (leases), and file_invalidated for cross-process caches."""

import asyncio
import textwrap
from datetime import timedelta

from sanic_testing.reusable import ReusableClient

from pichr_appliance.app import create_app
from pichr_appliance.db import database
from pichr_appliance.models import Lease
from pichr_appliance.plugins import get_plugin_manager
from pichr_appliance.services import leases
from pichr_appliance.testing import ApiClient, free_port, make_settings, migrate
from pichr_appliance.timeutil import utcnow


def write_plugin(folder, name, source):
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(source))


def test_one_holder_at_a_time_and_takeover_after_expiry(tmp_path):
    settings = make_settings(tmp_path / "data")

    async def scenario():
        async with database(settings, get_plugin_manager(settings)):
            assert await leases.acquire("job", 60, holder="a")
            assert not await leases.acquire("job", 60, holder="b")
            assert await leases.acquire("job", 60, holder="a")  # renewal
            # The holder died: its lease runs out, and b takes over.
            await Lease.filter(name="job").update(expires_at=utcnow() - timedelta(seconds=1))
            assert await leases.acquire("job", 60, holder="b")
            assert not await leases.acquire("job", 60, holder="a")
            await leases.release("job", holder="a")  # not a's to release
            assert (await Lease.get(name="job")).holder == "b"
            await leases.release("job", holder="b")
            assert await Lease.get_or_none(name="job") is None
            # Several contenders at once: exactly one wins.
            results = await asyncio.gather(
                *(leases.acquire("race", 60, holder=f"h{i}") for i in range(8))
            )
            assert results.count(True) == 1

    asyncio.run(scenario())


def test_changes_to_a_file_reach_file_invalidated(tmp_path):
    folder = tmp_path / "plugins"
    log = tmp_path / "invalidated.txt"
    write_plugin(
        folder,
        "listener",
        f"""
        from pichr_appliance import hookimpl

        @hookimpl
        async def file_invalidated(runtime, file_id):
            with open({str(log)!r}, "a") as fh:
                fh.write(file_id + "\\n")
    """,
    )
    settings = make_settings(tmp_path / "data", {"plugins": {"dir": str(folder)}})
    migrate(settings)
    app = create_app(settings, name="invalidation_test")
    with ReusableClient(app, port=free_port()) as raw:
        client = ApiClient(raw, app)
        user = client.signup()
        file = client.upload(user)
        r = client.patch(
            f"/api/v1/files/{file['id']}", headers=user["headers"], json={"title": "x"}
        )
        assert r.status == 200
        assert client.delete(f"/api/v1/files/{file['id']}", headers=user["headers"]).status == 204
    assert log.read_text().splitlines().count(file["id"]) >= 2
