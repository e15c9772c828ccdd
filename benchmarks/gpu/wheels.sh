#!/usr/bin/env bash
# Gathers, on a machine with access to the package registry, the wheels the GPU image lacks
# (Python 3.12, torch 2.11, numpy 2; its package list: /work/.library/device/KINDS.md) into
# .whl/ (git-ignored), to be carried to the GPU machine and installed there without
# dependencies by benchmarks/gpu/run.sh. Versions are the ones uv.lock pins; lightly is the
# LightlySSL release the throughput comparison names.
#   bash benchmarks/gpu/wheels.sh        # ~4 MB
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .whl
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
# the OpenMMLab stack, LightlySSL, and their pure-Python needs missing from the image
WHEELS=(mmengine==0.10.7 mmcv-lite==2.0.1 mmcls==1.0.0rc6 mmselfsup==1.0.0 lightly==1.6.0
        addict==2.4.0 yapf==0.43.0 platformdirs==4.14.7 termcolor==3.3.0 future==1.0.0
        modelindex==0.0.2 model-index==0.1.11 ordered-set==4.1.0
        hydra-core==1.3.8 omegaconf==2.3.1)
PLATFORM=(--python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
          --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
python3 -m pip download -q --no-deps --only-binary=:all: "${PLATFORM[@]}" -d .whl "${WHEELS[@]}"
# antlr4-python3-runtime (omegaconf's parser) is published as a source archive only: build its
# pure-Python wheel here
python3 -m pip wheel -q --no-deps -w .whl antlr4-python3-runtime==4.9.3
ls .whl
