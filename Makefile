# The README's two commands. Each bootstraps uv when it is not on PATH (into .tools/, nothing
# global), syncs the environment pinned by uv.lock, then runs.
#   make repro   run the DVC pipeline of the profile set in params.yaml (JOBS stages at once)
#   make test    run the test suite
SHELL := /bin/bash
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
# uv must use the machine's Python, never download one (these machines have no such access).
export UV_PYTHON_DOWNLOADS := never

FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: env data chromium repro test

$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/python -m pip install --quiet "uv>=0.9"

env: $(UV)
	$(UV) sync --locked --extra test --compile-bytecode

# Fashion-MNIST, the smoke profile's real data, from Debian's package (needs root and apt).
data:
	@test -f $(FMNIST) || { \
	  echo "installing Fashion-MNIST (Debian package dataset-fashion-mnist)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; } \
	  || { echo "Fashion-MNIST is missing: run 'apt-get install dataset-fashion-mnist' as root"; exit 1; }

# Debian's chromium, the real browser the results-page test (tests/test_page.py) opens
# results/<profile>/index.html in (needs root and apt).
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing chromium (Debian package chromium, for the results-page test)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  || { echo "chromium is missing: run 'apt-get install chromium' as root"; exit 1; }

# `ortho-suite sweep` runs the stale stages of `dvc repro`, JOBS at once, each through
# `dvc repro -s` (DVC records every stage), then `dvc repro` for the rest. JOBS=1: one at a time.
JOBS ?= 2
repro: env data
	$(UV) run --no-sync ortho-suite sweep --jobs $(JOBS)

# The tests use Fashion-MNIST and chromium when they can be installed and skip the tests that
# need them otherwise.
test: env
	-@$(MAKE) --no-print-directory data
	-@$(MAKE) --no-print-directory chromium
	$(UV) run --no-sync pytest
