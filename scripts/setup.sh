#!/usr/bin/env bash
# Set up everything robomem needs on a fresh Debian 12 / Python 3.11 machine (no GPU, no robot, no downloads
# beyond PyPI/Debian): open3d's system library, a venv in .venv, the Python dependencies, the ROS 2 Jazzy
# wheels and the robomem interfaces (colcon). Idempotent: a second run only checks.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python3}

if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
  echo "[setup] installing libusb-1.0-0 (needed by open3d)" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libusb-1.0-0 >/dev/null
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate

stamp=.venv/.robomem-requirements
want=$(cat requirements.txt requirements-dev.txt requirements-ros.txt setup.py | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing Python dependencies into .venv (about 2-3 minutes on a fresh machine)" >&2
  pip install -q --upgrade pip
  pip install -q -r requirements.txt -r requirements-dev.txt -r requirements-ros.txt
  pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi

if [ -f scripts/build_ros.sh ]; then
  bash scripts/build_ros.sh
fi
echo "[setup] ready: source .venv/bin/activate" >&2
