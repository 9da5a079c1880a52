#!/usr/bin/env bash
# Prints the name of a local Debian bookworm base image with Python 3.11, building it with
# debootstrap when podman's store lacks it (no registry to pull python:3.11-slim from here).
# The tag is a digest of everything the image is built from, so a warm run reuses it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
INCLUDE=python3,python3-venv,ca-certificates
IMAGE="localhost/canopy-base:$SUITE-$(digest "$SUITE" "$MIRROR" "$INCLUDE" minbase "$0")"

if podman image exists "$IMAGE"; then
  echo "$IMAGE"; exit 0
fi
ROOT="$(mktemp -d /var/tmp/canopy-base.XXXXXX)"
trap 'rm -rf "$ROOT"' EXIT
log "building $IMAGE with debootstrap from $MIRROR (a few minutes)"
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOT" "$MIRROR" >&2
# What an image need not carry: apt's lists and caches, the docs and manuals.
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb \
       "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/*
tar -C "$ROOT" -c . | podman import --change 'CMD ["python3"]' - "$IMAGE" >&2
echo "$IMAGE"
