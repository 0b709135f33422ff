#!/usr/bin/env bash
# Build the robomem_interfaces ROS 2 package (msg/ + srv/) and the vendored tf2_msgs (TFMessage only) with colcon from the PyPI ROS 2 Jazzy wheels.
#
#   pip install -r requirements-ros.txt     # once, into the active virtual environment
#   bash scripts/build_ros.sh              # ~15 s the first time, ~3 s when nothing changed (idempotent)
#
# What it does:
#   1. rewrites the /opt/python/cp311-cp311/... include paths baked into the wheels' exported .cmake files
#      to this Python's include dir and numpy's (the wheels were built in a manylinux container);
#   2. colcon-builds interfaces/{robomem_interfaces,tf2_msgs} into build_ros/{build,install,log} (git-ignored);
#   3. writes <site-packages>/robomem_interfaces.pth so every Python of this environment can import the
#      generated package and load its .so libraries: the .pth puts the generated Python package on sys.path
#      and prepends build_ros/install/lib to LD_LIBRARY_PATH before the wheels' own bootstrap .pth
#      (ros_wheels_bootstrapper.pth, which sorts after it) re-executes Python with that environment.
#
# Only the C type supports rclpy needs are generated; ROBOMEM_INTERFACES_CPP=ON adds the C++ ones (3x slower).
# Environment: PYTHON (default: python3 of the active venv, else ./.venv/bin/python), ROBOMEM_ROS_BUILD_DIR
# (default: <repo>/build_ros).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${ROBOMEM_ROS_BUILD_DIR:-$ROOT/build_ros}"

if [[ -n "${PYTHON:-}" ]]; then
  PY="$PYTHON"
elif [[ -n "${VIRTUAL_ENV:-}" ]]; then
  PY="$VIRTUAL_ENV/bin/python"
elif [[ -x "$ROOT/.venv/bin/python" ]]; then
  PY="$ROOT/.venv/bin/python"
else
  PY="$(command -v python3)"
fi

die() { echo "build_ros.sh: error: $*" >&2; exit 1; }

command -v cmake >/dev/null || die "cmake not found: apt-get install -y cmake"
command -v c++ >/dev/null || die "no C++ compiler found: apt-get install -y g++"

# Everything below is asked of the Python that will run robomem.
eval "$("$PY" - <<'EOF'
import os, sys, sysconfig
try:
    import numpy
    np_inc = numpy.get_include()
except ImportError:
    np_inc = ""
print(f'PREFIX="{sys.prefix}"')
print(f'SITE="{sysconfig.get_paths()["purelib"]}"')
print(f'PY_INC="{sysconfig.get_paths()["include"]}"')
print(f'NP_INC="{np_inc}"')
print(f'PYVER="{sys.version_info.major}.{sys.version_info.minor}"')
EOF
)"
[[ -n "$NP_INC" ]] || die "numpy is not installed in $PY: pip install -r requirements.txt"
[[ -f "$PY_INC/Python.h" ]] || die "Python headers missing ($PY_INC/Python.h): install the python$PYVER dev package"
[[ -d "$PREFIX/share/ament_cmake" ]] || die "ament_cmake not found under $PREFIX/share: pip install -r requirements-ros.txt"
[[ -d "$PREFIX/share/rosidl_default_generators" ]] || die "rosidl_default_generators not found: pip install -r requirements-ros.txt"
[[ -x "$PREFIX/bin/colcon" ]] || command -v colcon >/dev/null || die "colcon not found: pip install -r requirements-ros.txt"
COLCON="$PREFIX/bin/colcon"; [[ -x "$COLCON" ]] || COLCON="$(command -v colcon)"

# 1. The wheels' exported CMake files name the manylinux build container's Python; point them at ours.
mapfile -t baked < <(grep -rl --include='*.cmake' '/opt/python/cp3' "$PREFIX/share" 2>/dev/null || true)
if ((${#baked[@]})); then
  sed -i -E \
    -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#$NP_INC#g" \
    -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages#$SITE#g" \
    -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$PY_INC#g" \
    "${baked[@]}"
  echo "build_ros.sh: rewrote the Python include paths of ${#baked[@]} exported .cmake files"
fi

# 2. colcon build (incremental: a second run only re-checks). Ninja when present: it keeps both cores busy.
mkdir -p "$BUILD_DIR"
GENERATOR="Unix Makefiles"; command -v ninja >/dev/null && GENERATOR="Ninja"
for cache in "$BUILD_DIR"/build/*/CMakeCache.txt; do  # a cache made with another generator cannot be reused
  [[ -f "$cache" ]] || continue
  grep -qx "CMAKE_GENERATOR:INTERNAL=$GENERATOR" "$cache" || rm -rf "$(dirname "$cache")"
done
export AMENT_PREFIX_PATH="$PREFIX${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$PREFIX${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export PATH="$PREFIX/bin:$PATH"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"  # setuptools deprecation chatter inside colcon
(
  cd "$ROOT"
  "$COLCON" --log-base "$BUILD_DIR/log" build \
    --base-paths "$ROOT/interfaces" \
    --build-base "$BUILD_DIR/build" \
    --install-base "$BUILD_DIR/install" \
    --merge-install \
    --event-handlers console_cohesion- summary+ status- \
    --cmake-args -G "$GENERATOR" -DBUILD_TESTING=OFF "-DPython3_EXECUTABLE=$PY" "-DPYTHON_EXECUTABLE=$PY" \
      -DCMAKE_BUILD_TYPE=Release "-DROBOMEM_INTERFACES_CPP=${ROBOMEM_INTERFACES_CPP:-OFF}"
)

INSTALL="$BUILD_DIR/install"
PYPKG="$INSTALL/lib/python$PYVER/site-packages"
for pkg in robomem_interfaces tf2_msgs; do
  [[ -d "$PYPKG/$pkg" ]] || die "colcon finished but $PYPKG/$pkg is missing"
done

# 3. Make the generated package importable (and its libraries loadable) from every Python of this venv.
PTH="$SITE/robomem_interfaces.pth"
TMP="$(mktemp "$SITE/.robomem_interfaces.pth.XXXXXX")"
cat > "$TMP" <<EOF
$PYPKG
import os, sys; exec("lib = '$INSTALL/lib'\nparts = [p for p in os.environ.get('LD_LIBRARY_PATH', '').split(os.pathsep) if p]\nif lib not in parts and os.path.isdir(lib):\n    os.environ['LD_LIBRARY_PATH'] = os.pathsep.join([lib] + parts)\n    if os.environ.get('_ROS_WHEELS_BOOTSTRAP_COMPLETE'):\n        os.execv(sys.executable, sys.orig_argv)")
EOF
chmod 644 "$TMP"
mv -f "$TMP" "$PTH"

# Check from a fresh interpreter that the messages import and their type support loads.
env -u _ROS_WHEELS_BOOTSTRAP_COMPLETE "$PY" -c "
from robomem_interfaces.msg import MemoryObject
from robomem_interfaces.srv import Locate
from tf2_msgs.msg import TFMessage
from rclpy.type_support import check_for_type_support
for t in (MemoryObject, Locate, TFMessage):
    check_for_type_support(t)
" || die "the built robomem_interfaces do not import; see the error above"
echo "build_ros.sh: robomem_interfaces built into $INSTALL and importable from $PY"
