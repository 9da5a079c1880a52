#!/usr/bin/env bash
# wheels.sh BASE_IMAGE: prints a folder of wheels for requirements.txt (the image's
# dependencies, nothing from requirements-dev.txt) that BASE_IMAGE's Python can install with
# --no-index, as an air-gapped site does. Built on the host (`pip wheel -r requirements.txt`,
# completed for the image's Python by wheelhouse.py) when the cache lacks it; named by a
# digest of requirements.txt and both interpreters' versions.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-.venv/bin/python}"
HOST_PY="$("$PYTHON" -c 'import platform, sysconfig; print(platform.python_version(), sysconfig.get_platform())')"
IMAGE_PY="$(podman run --rm "$1" python3 -c 'import platform; print(platform.python_version())')"
case "$HOST_PY/$IMAGE_PY" in
  3.11.*/3.11.*) ;;
  *) log "the wheelhouse needs CPython 3.11 on both sides, not host $HOST_PY, image $IMAGE_PY"; exit 1 ;;
esac
WHEELS="$CACHE_DIR/wheels-$(digest requirements.txt deploy/check/wheelhouse.py "$HOST_PY" "$IMAGE_PY")"
if [ -f "$WHEELS/.complete" ]; then
  echo "$WHEELS"; exit 0
fi
log "building the wheelhouse $WHEELS"
rm -rf "$WHEELS.tmp" && mkdir -p "$WHEELS.tmp"
# (pip warns of every local index folder a package is missing from: not news)
"$PYTHON" -m pip wheel --quiet -r requirements.txt -w "$WHEELS.tmp" 2> >(grep -v 'is ignored' >&2)
"$PYTHON" deploy/check/wheelhouse.py requirements.txt "$WHEELS.tmp" "$IMAGE_PY" 2> >(grep -v 'is ignored' >&2)
touch "$WHEELS.tmp/.complete"
rm -rf "$WHEELS" && mv "$WHEELS.tmp" "$WHEELS"
echo "$WHEELS"
