"""docs/guide.md runs as printed (issue 19): its ```sh blocks, in order, in one bash, in
an empty folder, against a fresh ``pichr-appliance serve`` with the default settings
(rate limits on).

The test provides what the guide's prose asks the reader for: ``PICHR`` (the server's
address) and the appliance's Python first on ``PATH``. Each block runs under
``set -eo pipefail``, stricter than a reader's shell: any failing command (``curl
--fail-with-body`` on an error status, ``jq`` on a missing field) fails its block.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pichr_appliance.testing import LiveServer

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "guide.md"
MARK = "::: guide block"


def blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", GUIDE.read_text(), flags=re.S)


def run_guide(folder: Path, env: dict[str, str]) -> list[tuple[int, str]]:
    """Every block in one bash; (exit status, output) per block that ran."""
    script = ["set -o pipefail"]
    for i, block in enumerate(blocks()):
        # A subshell would lose the variables: the block runs in the main shell with -e,
        # and a trap reports its status if it stops the script.
        script += [
            f"echo '{MARK} {i} begin'",
            f"trap 'echo \"{MARK} {i} end $?\"' EXIT",
            "set -e",
            block,
            "set +e",
            "trap - EXIT",
            f"echo '{MARK} {i} end 0'",
        ]
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=folder, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
    )  # fmt: skip
    results = []
    for i in range(len(blocks())):
        found = re.search(rf"{MARK} {i} begin\n(.*?){MARK} {i} end (\d+)\n", done.stdout, re.S)
        if not found:
            break
        results.append((int(found.group(2)), found.group(1)))
    return results


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PICHR_TEST_DATABASE", raising=False)  # SQLite is enough here
    live = LiveServer(tmp_path / "data").start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="session")
def guide_tools() -> None:
    """The reader's tools; missing ones fail with one line saying how to get them."""
    missing = [tool for tool in ("curl", "jq", "split", "stat") if not shutil.which(tool)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found (docs/guide.md uses them): "
            "apt-get install curl jq, or run scripts/test, which installs them",
            pytrace=False,
        )


@pytest.mark.timeout(600)
def test_the_guide_runs_as_printed(guide_tools, server: LiveServer, tmp_path: Path):
    folder = tmp_path / "reader"
    folder.mkdir()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "PICHR": server.url, "PATH": path}
    results = run_guide(folder, env)
    for i, (status, output) in enumerate(results):
        assert status == 0, f"block {i} of docs/guide.md failed ({status}):\n{output}"
    assert len(results) == len(blocks()), f"block {len(results)} did not finish"

    # What the blocks left behind is what the guide says they do.
    presign = json.loads((folder / "presign.json").read_text())
    assert presign["uploadUrl"].startswith(f"{server.url}/api/v1/upload/direct/")
    assert (folder / "large.png").stat().st_size > 10_000_000  # three parts of 5 MiB
    init = json.loads((folder / "init.json").read_text())
    assert init["partCount"] == 3 and len(init["partUrls"]) == 3
    parts = [json.loads((folder / f"part{n}.json").read_text()) for n in (1, 2, 3)]
    assert [p["partNumber"] for p in parts] == [1, 2, 3]
    large = json.loads((folder / "large.json").read_text())
    assert large["status"] == "ready" and large["bytes"] == (folder / "large.png").stat().st_size
    album = json.loads((folder / "album.json").read_text())
    assert album["title"] == "Cat Photos Collection"
    assert (folder / "small.webp").read_bytes()[8:12] == b"WEBP"
    assert (folder / "original.jpg").read_bytes() == (folder / "kitten.jpg").read_bytes()
    key = json.loads((folder / "key.json").read_text())
    assert key["key"].startswith("pk_") and key["permissions"] == ["upload", "read"]
    outputs = "\n".join(output for _, output in results)
    assert '"status": "ready"' in outputs and "the original, byte for byte" in outputs


def test_the_guides_50_mib_example_is_over_the_free_plan(pichr_client, pichr_user):
    """What docs/guide.md and docs/api.md say about the public guide's multipart example."""
    body = {"filename": "large-image.jpg", "mime": "image/jpeg", "totalBytes": 52428800,
            "partSize": 5242880}  # fmt: skip
    answer = pichr_client.post(
        "/api/v1/upload/multipart/init", headers=pichr_user["headers"], json=body
    )
    assert answer.status == 413, answer.text
    body["totalBytes"] = 50_000_000
    answer = pichr_client.post(
        "/api/v1/upload/multipart/init", headers=pichr_user["headers"], json=body
    )
    assert answer.status == 201, answer.text
