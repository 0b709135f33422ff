#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run every check: ruff, mypy, the whole pytest suite. Extra args go to pytest.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
echo "== ruff"; ruff check robomem sim tests benchmarks launch
echo "== mypy"; mypy robomem sim
echo "== pytest"; python -m pytest -q "$@"
