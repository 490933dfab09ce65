#!/usr/bin/env bash
# Build dist/pichr-appliance: the appliance, its built-in plugins and every data file of
# the package (web assets, when there are any) in one self-contained executable
# (PyInstaller one-file). Needs Python 3.11+ and PyPI; nothing else.
#
#   packaging/build-binary.sh            # -> dist/pichr-appliance
#
# Environment: PYTHON (interpreter for the build venv, default python3),
# PICHR_BUILD_VENV (default build/binary-venv), PICHR_DIST_DIR (default dist),
# PICHR_BUILD_WORK (PyInstaller's work folder, default build/pyinstaller).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
VENV=${PICHR_BUILD_VENV:-$ROOT/build/binary-venv}
DIST=${PICHR_DIST_DIR:-$ROOT/dist}
WORK=${PICHR_BUILD_WORK:-$ROOT/build/pyinstaller}
export PIP_DISABLE_PIP_VERSION_CHECK=1

# A venv of its own: PyInstaller bundles what is installed there and nothing else.
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q "pyinstaller>=6.10,<7"
# A real (not editable) install: PyInstaller then finds the migrations and package
# data through the installed package (an editable install hides them from it).
"$VENV/bin/pip" install -q "$ROOT"
"$VENV/bin/pip" install -q --force-reinstall --no-deps "$ROOT"

hidden=()
# Tortoise imports its database engine by name from the configuration.
for module in tortoise.backends.sqlite tortoise.backends.sqlite.client; do
  hidden+=(--hidden-import "$module")
done
# Imported where first needed (formats.register_heif, imaging.placeholder): named so
# that the analysis cannot miss them. pi-heif's extension links libheif and libde265
# from its wheel's pi_heif.libs/ (found through its RPATH, bundled beside it); no HEIC
# encoder is in the binary (pillow-heif, which has one, is a test dependency only).
for module in pi_heif pi_heif.as_plugin _pi_heif blurhash; do
  hidden+=(--hidden-import "$module")
done
# Single-file plugins (plugins.dir) can only import what the binary contains: give them
# the standard library modules a small plugin typically needs.
for module in json csv hmac hashlib sqlite3 smtplib email.mime.text urllib.request \
  http.client logging.handlers subprocess shlex zipfile tarfile uuid; do
  hidden+=(--hidden-import "$module")
done

"$VENV/bin/pyinstaller" --noconfirm --clean --onefile --log-level WARN \
  --name pichr-appliance \
  --distpath "$DIST" --workpath "$WORK" --specpath "$WORK" \
  --collect-submodules pichr_appliance \
  --collect-data pichr_appliance \
  --collect-data tracerite --collect-data sanic \
  --copy-metadata pichr-appliance --copy-metadata pi-heif \
  --collect-binaries pi_heif \
  "${hidden[@]}" \
  "$ROOT/packaging/entry.py"

"$DIST/pichr-appliance" --version
echo "built $DIST/pichr-appliance ($(du -h "$DIST/pichr-appliance" | cut -f1))"
