# Shared by the deploy-check scripts: podman configured for this kind of machine, the cache.
# Sourced, not run.

# The project's own containers.conf: runc (crun refuses hybrid cgroups here) and ulimits
# no higher than the host allows (raising one is refused). No change to the machine's /etc.
export CONTAINERS_CONF="${CONTAINERS_CONF:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/containers.conf}"

# What the check keeps between runs: the Debian base image (in podman's store, tagged by
# what it is built from) and the wheelhouse (here, named by what it is built from).
CACHE_DIR="${CANOPY_DEPLOY_CACHE:-/var/cache/canopy-deploy}"

log() { printf '%s [deploy-check] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# A short digest of the given strings and files' contents: the cache keys.
digest() {
  local item
  for item in "$@"; do
    if [ -f "$item" ]; then cat "$item"; else printf '%s\n' "$item"; fi
  done | sha256sum | cut -c1-12
}
