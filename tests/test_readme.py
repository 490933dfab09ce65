"""The README's commands run as printed (issue 19).

The administration block is run line by line, in one bash, in a folder laid out as the
run command leaves it: ``.venv`` (here a link to the environment running the tests),
``./pichr-data`` made by ``migrate``, and a server running on it, as it is while the
reader types these commands in another terminal. Standard input is not a terminal, so
``user create`` and ``user reset-password`` take their non-interactive path (a
generated password, printed once).

No line is skipped or rewritten. The test only provides what the lines refer to and
the reader would have: an open report (for the ``REPORT=`` line, ``moderate show`` and
``moderate resolve``), made through the API by another account, and ``~/Pictures``
holding an image (for ``import``), with ``HOME`` pointing into the test's folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pichr_appliance.testing import LiveServer, sample_image_bytes

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CHEAP_HASHING = {
    "PICHR_AUTH__ARGON2_TIME_COST": "1",
    "PICHR_AUTH__ARGON2_MEMORY_KIB": "64",
    "PICHR_AUTH__ARGON2_PARALLELISM": "1",
}


def code_blocks(section: str) -> list[str]:
    """The ```sh blocks of the README section titled ``section``."""
    body = README.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", body, flags=re.S)


def command_lines(block: str) -> list[str]:
    """The block's commands: continuation lines joined, blank and comment lines left out."""
    joined = block.replace("\\\n", " ")
    return [line for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def test_the_test_command_is_scripts_test_and_installs_what_the_readme_says():
    blocks = code_blocks("Test it")
    assert blocks[0].strip() == "scripts/test"
    pip_line = blocks[1].splitlines()[0].split(" && timeout ")[0]
    script = (ROOT / "scripts" / "test").read_text().splitlines()
    installs = [line.strip() for line in script if line.strip().startswith("python3 -m venv")]
    assert installs == [pip_line], "README and scripts/test install different things"
    help_text = subprocess.run(
        ["bash", str(ROOT / "scripts" / "test"), "--help"], capture_output=True, text=True
    )
    assert help_text.returncode == 0
    for option in ("--postgres", "--no-postgres", "--no-install", "--yes", "PICHR_TEST_"):
        assert option in help_text.stdout


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The reader's folder after the run command, a server running on it, and HOME."""
    for name in [n for n in os.environ if n.startswith("PICHR_")]:
        monkeypatch.delenv(name)  # SQLite in ./pichr-data, whatever the suite runs on
    venv_bin = Path(sys.executable).parent
    if not (venv_bin / "pichr-appliance").exists():
        pytest.fail(f"no pichr-appliance next to {sys.executable}: run the tests from .venv")
    if not shutil.which("jq"):
        pytest.fail("jq not found (the README's REPORT= line uses it): apt-get install jq, "
                    "or run scripts/test, which installs it", pytrace=False)  # fmt: skip
    home = tmp_path / "home"
    folder = home / "pichr"
    folder.mkdir(parents=True)
    (folder / ".venv").symlink_to(venv_bin.parent)
    (home / "Pictures").mkdir()
    (home / "Pictures" / "beach.jpg").write_bytes(sample_image_bytes("JPEG", (90, 60)))
    env = {**os.environ, **CHEAP_HASHING, "HOME": str(home)}
    migrated = subprocess.run(
        [str(venv_bin / "pichr-appliance"), "migrate"], cwd=folder, env=env,
        capture_output=True, text=True,
    )  # fmt: skip
    assert migrated.returncode == 0, migrated.stderr
    server = LiveServer(folder / "pichr-data", env=CHEAP_HASHING).start()
    try:
        yield {"folder": folder, "home": home, "env": env, "server": server}
    finally:
        server.stop()


def open_report(server: LiveServer) -> str:
    """Someone else's public image, reported anonymously: what the REPORT= line finds."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        body = {
            "email": "rita@example.com",
            "password": "correct horse battery",
            "username": "rita",
            "firstName": "R",
            "lastName": "R",
            "ageConfirmed": True,
        }
        auth = http.post("/api/v1/auth/signup", json=body).json()["session"]
        headers = {"Authorization": f"Bearer {auth['access_token']}"}
        image = sample_image_bytes("PNG")
        answer = http.post(
            "/api/v1/upload?filename=a.png&visibility=public", headers=headers, content=image
        )
        assert answer.status_code == 201, answer.text
        report = http.post(
            "/api/v1/moderation/report", json={"fileId": answer.json()["id"], "reason": "spam"}
        )
        assert report.status_code == 201, report.text
        return report.json()["id"]


def run_lines(lines: list[str], cwd: Path, env: dict[str, str]) -> list[tuple[str, int, str]]:
    """Run ``lines`` in order in one bash (variables and PATH carry over); stop at the
    first failure. Returns (line, exit status, output) for each line that ran."""
    script = []
    for i, line in enumerate(lines):
        script += [f"echo '::: begin {i}'", line, "rc=$?", f'echo "::: end {i} $rc"',
                   '[ "$rc" = 0 ] || exit 1']  # fmt: skip
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900,
    )  # fmt: skip
    results = []
    for i, line in enumerate(lines):
        found = re.search(rf"::: begin {i}\n(.*?)::: end {i} (\d+)\n", done.stdout, re.S)
        if not found:
            break
        results.append((line, int(found.group(2)), found.group(1)))
    assert results, done.stdout
    return results


@pytest.mark.slow  # some 25 commands, a Python start each: a minute or more when loaded
@pytest.mark.timeout(900)
def test_the_administration_section_runs_as_printed(site):
    (block,) = code_blocks("Administration")
    lines = command_lines(block)
    assert lines[0] == 'export PATH="$PWD/.venv/bin:$PATH"'
    report_id = open_report(site["server"])
    results = run_lines(lines, site["folder"], site["env"])
    failed = [(line, code, out) for line, code, out in results if code != 0]
    assert not failed, failed
    assert len(results) == len(lines)

    def output(start: str) -> str:
        return next(text for line, _, text in results if line.startswith(start))

    admin = lines[1]
    assert "--password" not in admin and "password (shown only now)" in output(admin)
    assert "password (shown only now)" in output("pichr-appliance user reset-password sam")
    assert f"report {report_id}: open" in output("pichr-appliance moderate show")
    assert "dismiss" in output("pichr-appliance moderate resolve")
    assert "imported 1" in output("pichr-appliance import")
    assert (site["home"] / "pichr-restored" / "pichr.sqlite3").exists()
    sharex = json.loads((site["folder"] / "you.sxcu").read_text())
    assert sharex["RequestURL"] == f"{site['server'].url}/api/v1/upload"
    # The accounts the block made are real: the generated password signs in.
    password = output(admin).split("password (shown only now):")[1].split()[0]
    login = httpx.post(
        f"{site['server'].url}/api/v1/auth/login", json={"email": "you", "password": password}
    )
    assert login.status_code == 200 and login.json()["user"]["role"] == "admin"
