#!/usr/bin/env bash
# Builds a Lambda layer's python/ folder with no Docker: native wheels for the target architecture.
#   build-layer.sh REQUIREMENTS ARTIFACTS_DIR [SOURCE_DIR]
# ARCH (arm64 | x86_64, default arm64) picks the wheels. The wheels these layers need are tagged
# manylinux_2_17 … manylinux_2_34; the bare manylinux2014 tag alone finds none of them.
set -euo pipefail
requirements=$1 artifacts=$2 source=${3:-}
arch=${ARCH:-arm64}
case "$arch" in
  arm64) machine=aarch64 ;;
  x86_64) machine=x86_64 ;;
  *) echo "ARCH must be arm64 or x86_64, not '$arch'" >&2; exit 2 ;;
esac
python=${LAYER_PYTHON:-python3}
platforms=(--platform "manylinux2014_$machine")
for minor in 17 24 26 27 28 31 34; do platforms+=(--platform "manylinux_2_${minor}_$machine"); done
target="$artifacts/python"
mkdir -p "$target"
wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
# Pure-Python packages published only as source (pyvips) become wheels here first; the
# platform-restricted install below then takes them like any other wheel.
sdist_only=$(grep -E '^pyvips==' "$requirements" || true)
if [ -n "$sdist_only" ]; then
  "$python" -m pip wheel --quiet --no-deps --no-binary pyvips -w "$wheels" "$sdist_only" >/dev/null
fi
"$python" -m pip install --quiet --disable-pip-version-check --no-compile \
  --target "$target" --implementation cp --python-version 3.13 --only-binary=:all: \
  --find-links "$wheels" "${platforms[@]}" -r "$requirements"
if [ -n "$source" ]; then cp -R "$source" "$target/"; fi
# The python3.13 runtime ships boto3 and what it needs; a second copy in /opt/python would shadow
# the runtime's botocore with one that does not match its boto3.
for provided in boto3 botocore s3transfer jmespath urllib3 dateutil six; do
  rm -rf "$target/$provided" "$target/$provided.py" "$target"/"${provided//-/_}"-*.dist-info "$target"/python_"$provided"-*.dist-info
done
# Nothing the runtime does not need: caches (a copied source tree's, made by another Python or
# stamped with times), tests, and type stubs.
find "$target" -name __pycache__ -type d -prune -exec rm -rf {} +
find "$target" -name '*.pyi' -delete
# Bytecode, so that a cold start does not compile the packages it imports (/opt is read-only: what
# it compiles is lost with the environment). A zip keeps no file times Python could compare with
# the ones a timestamp .pyc records, so these are hash-based; unchecked, because a layer version
# never changes: Python loads the .pyc without reading and hashing its source (bench/coldstart.py
# measures the difference). The .pyc format is per minor version: the runtime's, 3.13.
"$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' ||
  { echo "LAYER_PYTHON ($python) must be Python 3.13, the runtime's, to compile its bytecode" >&2; exit 2; }
"$python" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$target" >/dev/null
