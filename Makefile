# The README's two commands. Each bootstraps uv when it is not on PATH (into .tools/, nothing
# global), syncs the environment pinned by uv.lock, then runs.
#   make repro   run the DVC pipeline (dvc repro) of the profile set in params.yaml
#   make test    run the test suite
SHELL := /bin/bash
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
# uv must use the machine's Python, never download one (these machines have no such access).
export UV_PYTHON_DOWNLOADS := never

.PHONY: env repro test

$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/python -m pip install --quiet "uv>=0.9"

env: $(UV)
	$(UV) sync --locked --extra test

repro: env
	$(UV) run --no-sync dvc repro

test: env
	$(UV) run --no-sync pytest
