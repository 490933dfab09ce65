"""Create a migration from the changes in pichr_appliance/models.py.

Usage: python scripts/makemigrations.py NAME
"""

import os
import subprocess
import sys
import tempfile

name = sys.argv[1] if len(sys.argv) > 1 else "auto"
with tempfile.TemporaryDirectory() as tmp:
    with open(os.path.join(tmp, "mkcfg.py"), "w") as fh:
        fh.write(
            "TORTOISE_ORM = {'connections': {'default': 'sqlite://" + tmp + "/db.sqlite3'},"
            " 'apps': {'models': {'models': ['pichr_appliance.models'],"
            " 'default_connection': 'default', 'migrations': 'pichr_appliance.migrations'}}}\n"
        )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tmp, os.getcwd()])}
    sys.exit(
        subprocess.call(
            [
                sys.executable,
                "-m",
                "tortoise",
                "-c",
                "mkcfg.TORTOISE_ORM",
                "makemigrations",
                "--name",
                name,
            ],
            env=env,
        )
    )
