# The README's two commands. Each bootstraps uv when it is not on PATH (into .tools/, nothing
# global), syncs the environment pinned by uv.lock, then runs.
#   make repro   run the DVC pipeline (dvc repro) of the profile set in params.yaml
#   make test    run the test suite
SHELL := /bin/bash
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
# uv must use the machine's Python, never download one (these machines have no such access).
export UV_PYTHON_DOWNLOADS := never

FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: env data repro test

$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/python -m pip install --quiet "uv>=0.9"

env: $(UV)
	$(UV) sync --locked --extra test

# Fashion-MNIST, the smoke profile's real data, from Debian's package (needs root and apt).
data:
	@test -f $(FMNIST) || { \
	  echo "installing Fashion-MNIST (Debian package dataset-fashion-mnist)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; } \
	  || { echo "Fashion-MNIST is missing: run 'apt-get install dataset-fashion-mnist' as root"; exit 1; }

repro: env data
	$(UV) run --no-sync dvc repro

# The tests use Fashion-MNIST when it can be installed and skip that one test otherwise.
test: env
	-@$(MAKE) --no-print-directory data
	$(UV) run --no-sync pytest
