#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the main job: the simulation evaluation on the built-in simulator with
# default settings (CPU only, no robot, no downloads). Extra args go to robomem-eval (see --help).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
exec robomem-eval "$@"
