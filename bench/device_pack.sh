#!/usr/bin/env bash
# What bench/device_run.py needs on a GPU machine that has no network and no data folder, put in
# .device/ (gitignored; carried with the command, at most 64 MiB with the working tree):
#   - the compact CIFAR-10 copy (every image a lossless WebP; robustrep_lite.training.data reads it);
#   - wheels of the pure-Python packages the machine's image lacks (pyautoattack, without the
#     43 MB of example weights it ships; foolbox and what it needs), for Python 3.12, fetched
#     from the package index (no compiled code).
# Usage: bash bench/device_pack.sh [DATA_DIR]   (default $ROBUSTREP_DATA)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-${ROBUSTREP_DATA:?pass DATA_DIR or set ROBUSTREP_DATA}}"
mkdir -p .device
cp "$data/cifar10_jpeg_webp.npz" .device/
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
    -d .device pyautoattack==0.2.0 foolbox==3.3.4 eagerpy==0.30.0 GitPython==3.1.45 \
    gitdb==4.0.12 smmap==5.0.2
python3 - .device/pyautoattack-0.2.0-py3-none-any.whl <<'PY'
import sys
import zipfile
from pathlib import Path

wheel = Path(sys.argv[1])
slim = wheel.with_suffix(".slim")
with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as dst:
    for item in src.infolist():
        if not item.filename.startswith("pyautoattack/examples/"):
            dst.writestr(item, src.read(item))
slim.replace(wheel)
PY
du -sh .device
git ls-files -z | xargs -0 du -cb | tail -1 | awk '{printf "tracked files: %.1f MB\n", $1 / 1e6}'
