# Canopy: `make run` starts the farm on its embedded defaults, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup chromium containers run test deploy-check migrate user bench clean screenshots

setup: $(STAMP)

# The browser tests use Debian's Chromium (Playwright downloads no browser of its own here);
# the network-namespace tests use ip (iproute2) and socat.
chromium:
	@command -v chromium >/dev/null && command -v socat >/dev/null && command -v ip >/dev/null \
	  || (apt-get update && apt-get install -y chromium socat iproute2)

# The deploy check's containers: Debian's podman (with runc: its crun refuses this kind of
# machine's cgroups) and debootstrap for a local base image (no registry to pull from).
containers:
	@command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null \
	  || (apt-get update && apt-get install -y podman runc debootstrap)

# Also the `canopy` command (pyproject.toml), into $(BIN), from this tree (editable).
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

migrate: setup
	$(BIN)/python -m shared.cli migrate

# The farm: API + worker + reaper + webhook sender, plus the bundled Redis when CANOPY_REDIS_URL
# is unset.
run: migrate
	honcho start $(if $(CANOPY_REDIS_URL),,redis) web worker hooks

# Creates a user and prints a new API key as the last line: make user EMAIL=you@example.com
user: migrate
	$(BIN)/python -m shared.cli create-user "$(EMAIL)"

test: setup chromium
	$(BIN)/python -m pytest

# deploy/: the image built and run as farms of containers that render (deploy/check/run.sh).
deploy-check: setup containers
	deploy/check/run.sh

# The dashboard's pictures in docs/screenshots/, from a farm of its own with sample media.
screenshots: setup chromium
	$(BIN)/python -m tests.ui.screenshots

bench: setup
	for b in render_vs_ffmpeg queue_latency status_polling upload events; do $(BIN)/python -m bench.$$b || exit 1; done

clean:
	rm -rf $(VENV) var
