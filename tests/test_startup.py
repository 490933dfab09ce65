"""What start-up imports: ``--version`` and a local-disk server pay for nothing they do
not use (the figures are in docs/benchmarks.md, measured by bench/bench_startup.py;
here only which modules get imported, which does not depend on the machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def imported_after(code: str, tmp_path: Path) -> set[str]:
    """The top-level modules a fresh interpreter has imported after running ``code``."""
    probe = (
        "import sys, json\n"
        f"{code}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_version_imports_neither_the_server_nor_the_orm(tmp_path: Path):
    code = (
        "from pichr_appliance.cli import cli\n"
        "try:\n"
        "    cli(['--version'], prog_name='pichr-appliance')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    modules = imported_after(code, tmp_path)
    assert "click" in modules
    assert not modules & {"sanic", "tortoise", "pydantic", "PIL", "aiobotocore"}, modules


def test_a_command_imports_only_its_own_module(tmp_path: Path):
    from pichr_appliance.cli import COMMANDS

    code = (
        "from pichr_appliance.cli import cli\n"
        "cmd = cli.get_command(None, 'config')\n"
        "assert cmd is not None and cmd.name == 'config'\n"
    )
    modules = imported_after(code, tmp_path)
    assert "sanic" not in modules
    # every name in the table resolves to a command of that name
    from pichr_appliance.cli import cli

    for name in COMMANDS:
        assert cli.get_command(None, name).name == name


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_the_s3_sdk_is_imported_only_when_s3_is_the_backend(tmp_path: Path, backend: str):
    code = (
        "from pichr_appliance.testing import make_settings\n"
        "from pichr_appliance.plugins import get_plugin_manager\n"
        f"settings = make_settings(__import__('pathlib').Path('data'), "
        f"{{'storage': {{'backend': {backend!r}, 'bucket': 'b'}}}})\n"
        "pm = get_plugin_manager(settings)\n"
        "names = [c.name for group in pm.hook.register_storage_backends(settings=settings) "
        "for c in group]\n"
        "assert 's3' in names, names\n"
    )
    modules = imported_after(code, tmp_path)
    assert ("aiobotocore" in modules) is (backend == "s3")
