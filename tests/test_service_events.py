"""Services fire the events, whoever calls them: the API, the CLI or a plugin.

An event fired by an HTTP handler is missed by every other way to do the same thing
(``import --album`` created albums without ``album_created``); these tests go through
the CLI, with a recording plugin loaded from ``plugins.dir`` as an operator would.
"""

import json
import os

import pytest
from click.testing import CliRunner

from pichr_appliance.cli import cli
from pichr_appliance.testing import sample_image_bytes

RECORDER = """
import json, os
from pichr_appliance import hookimpl

LOG = os.environ["PICHR_TEST_EVENT_LOG"]

def _note(event, **data):
    with open(LOG, "a") as fh:
        fh.write(json.dumps({"event": event, **data}) + "\\n")

@hookimpl
def album_created(runtime, album):
    _note("album_created", id=album.id, title=album.title)

@hookimpl
def user_created(runtime, user):
    _note("user_created", id=user.id)
"""


@pytest.fixture
def cli_run(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("PICHR_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PICHR_AUTH__ARGON2_TIME_COST", "1")
    monkeypatch.setenv("PICHR_AUTH__ARGON2_MEMORY_KIB", "64")
    monkeypatch.setenv("PICHR_AUTH__ARGON2_PARALLELISM", "1")
    log = tmp_path / "events.jsonl"
    monkeypatch.setenv("PICHR_TEST_EVENT_LOG", str(log))
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "recorder.py").write_text(RECORDER)
    common = ["--data-dir", str(tmp_path / "data"), "-s", f"plugins.dir={plugins}"]

    def invoke(*args):
        return CliRunner().invoke(cli, [*args, *common], catch_exceptions=False)

    def events(name):
        if not log.exists():
            return []
        rows = [json.loads(line) for line in log.read_text().splitlines()]
        return [r for r in rows if r["event"] == name]

    invoke.events = events
    assert invoke("migrate").exit_code == 0
    return invoke


def test_import_into_a_new_album_fires_album_created(cli_run, tmp_path):
    r = cli_run(
        "user", "create", "--email", "a@example.com", "--username", "admin",
        "--password", "long-password", "--role", "admin",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    folder = tmp_path / "pics"
    folder.mkdir()
    (folder / "one.png").write_bytes(sample_image_bytes("PNG"))
    r = cli_run("import", str(folder), "--album", "Holiday", "--json")
    assert r.exit_code == 0, r.output
    created = cli_run.events("album_created")
    assert [e["title"] for e in created] == ["Holiday"]
    # The album exists already on a second run: found, not created (no second event).
    (folder / "two.png").write_bytes(sample_image_bytes("PNG", color=(1, 2, 3)))
    assert cli_run("import", str(folder), "--album", "Holiday", "--json").exit_code == 0
    assert len(cli_run.events("album_created")) == 1


def test_cli_user_create_fires_user_created_once(cli_run):
    r = cli_run(
        "user", "create", "--email", "b@example.com", "--username", "bob",
        "--password", "long-password", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    user_id = json.loads(r.output)["id"]
    assert [e["id"] for e in cli_run.events("user_created")] == [user_id]
