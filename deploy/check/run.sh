#!/usr/bin/env bash
# make deploy-check: builds the image localhost/canopy:check on a local Debian base from a
# wheelhouse (as an air-gapped site would), checks what it holds, then runs farms of its
# containers and renders (deploy/check/farm.py). Everything it starts is removed on every
# exit; the base image, the wheelhouse and the image's layers stay as the cache (deploy/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/check/lib.sh

IMAGE=localhost/canopy:check
PYTHON="${PYTHON:-.venv/bin/python}"
BEGAN=$SECONDS
declare -a FIGURES=()
lap() { FIGURES+=("$1: $((SECONDS - LAP))s"); LAP=$SECONDS; }
LAP=$SECONDS

# The wheels linked into deploy/wheels for the build are removed again, however it ends.
LINKED=()
cleanup() { if [ ${#LINKED[@]} -gt 0 ]; then rm -f "${LINKED[@]}"; fi; }
trap cleanup EXIT

BASE="$(deploy/check/base.sh)"
lap "base image ($BASE)"
WHEELS="$(deploy/check/wheels.sh "$BASE")"
lap "wheelhouse"

if ls deploy/wheels/*.whl >/dev/null 2>&1; then
  log "deploy/wheels/ already holds wheels: the build installs those"
else
  for wheel in "$WHEELS"/*.whl; do
    cp -l "$wheel" deploy/wheels/ 2>/dev/null || cp "$wheel" deploy/wheels/
    LINKED+=("deploy/wheels/$(basename "$wheel")")
  done
fi
OLD="$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
log "building $IMAGE"
podman build --quiet -f deploy/Dockerfile --ignorefile deploy/Dockerfile.dockerignore \
  --build-arg BASE_IMAGE="$BASE" -t "$IMAGE" . >/dev/null
NEW="$(podman image inspect --format '{{.Id}}' "$IMAGE")"
if [ -n "$OLD" ] && [ "$OLD" != "$NEW" ]; then podman rmi "$OLD" >/dev/null 2>&1 || true; fi
cleanup; LINKED=()
lap "image"

# What the image holds and may do: its own user, no tests, dev requirements or .git; it
# writes its cache, scratch, objects folder and /tmp, and nothing else of /app.
podman run --rm "$IMAGE" sh -ec '
  test "$(id -u)" = 10001
  for path in tests bench .git requirements-dev.txt docs; do test ! -e "/app/$path"; done
  for dir in /app/var/cache /app/var/objects /tmp "$HOME"; do touch "$dir/.w" && rm "$dir/.w"; done
  if touch /app/api/.w 2>/dev/null; then echo "/app is writable" >&2; exit 1; fi
  gunicorn --version >/dev/null && celery --version >/dev/null && python -m shared.cli --help >/dev/null'
# Every program deploy/docker-compose.yml and deploy/k8s start (commands and probes) is here.
PYTHONPATH=. "$PYTHON" -m deploy.check.manifests programs | while read -r program; do
  case "$program" in
    "python -m "*) podman run --rm "$IMAGE" python -c "import importlib.util, sys; sys.exit(not importlib.util.find_spec('${program#python -m }'))" ;;
    *) podman run --rm "$IMAGE" sh -c "command -v '$program' >/dev/null" ;;
  esac || { log "the image lacks $program"; exit 1; }
done
SIZE_MB=$(( $(podman image inspect --format '{{.Size}}' "$IMAGE") / 1000000 ))
BASE_MB=$(( $(podman image inspect --format '{{.Size}}' "$BASE") / 1000000 ))
log "image $IMAGE: ${SIZE_MB} MB, of which the base ${BASE_MB} MB"
lap "image checks"

PYTHONPATH=. "$PYTHON" -m deploy.check.farm "$IMAGE"
lap "farms and renders"

log "passed in $((SECONDS - BEGAN))s; image ${SIZE_MB} MB (base ${BASE_MB} MB); load: $(cut -d' ' -f1-3 /proc/loadavg)"
for figure in "${FIGURES[@]}"; do log "  $figure"; done
