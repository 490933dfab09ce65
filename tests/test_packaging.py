"""The service files in ``packaging/``: what can be checked without systemd or a
container engine running (this machine has neither daemon)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

from pichr_appliance.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"


def unit_settings(text):
    settings = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_systemd_unit_is_hardened_and_valid(tmp_path):
    text = (PACKAGING / "systemd" / "pichr-appliance.service").read_text()
    unit = unit_settings(text)
    assert unit["User"] == ["pichr"] and unit["StateDirectory"] == ["pichr-appliance"]
    assert unit["Environment"][0] == "PICHR_DATA_DIR=/var/lib/pichr-appliance"
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "RestrictSUIDSGID": "yes",
        "CapabilityBoundingSet": "",
        "LimitNOFILE": "65536",  # slow clients must not exhaust descriptors
    }.items():
        assert unit[key] == [value], key
    exec_start = unit["ExecStart"][0].split()
    assert exec_start[0] == "/usr/local/bin/pichr-appliance" and exec_start[1] == "serve"
    # The drain: SIGTERM to the main process only, and time for graceful_timeout.
    from pichr_appliance.config import ServerSettings

    assert unit["KillMode"] == ["mixed"]
    assert int(unit["TimeoutStopSec"][0]) > ServerSettings().graceful_timeout
    sysusers = (PACKAGING / "systemd" / "pichr-appliance.sysusers.conf").read_text()
    assert re.search(r"^u pichr - ", sysusers, re.M)
    analyze = shutil.which("systemd-analyze")
    if analyze:  # systemd's own checker, on a copy whose ExecStart exists here
        copy = tmp_path / "pichr-appliance.service"
        copy.write_text(text.replace("/usr/local/bin/pichr-appliance", shutil.which("true")))
        out = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True)
        assert out.returncode == 0 and "pichr-appliance.service" not in out.stderr, out.stderr


def containerfile_instructions():
    text = (PACKAGING / "Containerfile").read_text()
    text = re.sub(r"\\\n", " ", text)  # continuation lines
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_containerfile_runs_as_non_root_with_a_volume_and_healthcheck():
    instructions = containerfile_instructions()
    known = {"ARG", "FROM", "WORKDIR", "COPY", "RUN", "ENV", "USER", "VOLUME", "EXPOSE",
             "HEALTHCHECK", "STOPSIGNAL", "ENTRYPOINT", "CMD"}  # fmt: skip
    assert {word for word, _ in instructions} <= known
    final = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    stage = instructions[final:]
    users = [rest for word, rest in stage if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    words = [word for word, _ in stage]
    assert words.index("USER") < words.index("CMD")
    assert ("VOLUME", '["/data"]') in stage and ("EXPOSE", "8787") in stage
    assert any(w == "ENV" and "PICHR_DATA_DIR=/data" in r for w, r in stage)
    assert any(w == "HEALTHCHECK" and "/health" in r for w, r in stage)
    for word, rest in instructions:
        if word == "COPY" and not rest.startswith("--from"):
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), source


def test_container_healthcheck_command_probes_health(live_server):
    stage = containerfile_instructions()
    check = next(rest for word, rest in stage if word == "HEALTHCHECK")
    code = re.search(r'"-c", "(.*)"\]', check).group(1)
    code = code.replace("127.0.0.1:8787", f"127.0.0.1:{live_server.port}")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    live_server.stop()
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode != 0


def test_compose_example_uses_real_settings():
    text = (PACKAGING / "compose" / "compose.yaml").read_text()
    assert "dockerfile: packaging/Containerfile" in text and "context: ../.." in text
    env = dict(re.findall(r"^\s+(PICHR_[A-Z_]+): (.+)$", text, re.M))
    example = (PACKAGING / "compose" / "pichr.env.example").read_text()
    env.update(re.findall(r"^(PICHR_[A-Z_]+)=(.+)$", example, re.M))
    assert {"PICHR_DATABASE__URL", "PICHR_STORAGE__BACKEND", "PICHR_RATE_LIMITS__STORE"} <= set(env)
    env = {k: re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", v) for k, v in env.items()}
    settings = load_settings(environ=env)  # every key is a real setting
    assert settings.database_url.startswith("postgres://")
    assert settings.storage.backend == "s3" and settings.rate_limits.store == "redis"
    assert settings.plugin_config("redis")["url"] == "redis://redis:6379/0"
    assert 'PICHR_PLUGINS: "pichr-postgres pichr-s3 pichr-redis"' in text
