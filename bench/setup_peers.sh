#!/usr/bin/env bash
# The environment of bench/mi_bmi.py: benchmark-mi 0.1.3 (which imports only with jax 0.4.30,
# jaxlib 0.4.30 and equinox 0.11.4, and pins numpy < 2), torch-mist 0.2.17 and this package,
# kept apart from the project's .venv (torchvision: the script reads the critic of Chapter 5's zoo
# from robustrep_lite.experiments.zoo). benchmark-mi declares equinox < 0.11, which cannot import
# with jax 0.4.30, so it is installed without its declared dependencies, which are listed here.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=bench/.venv-peers
test -x "$VENV/bin/python" || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -c constraints.txt \
    torch torchvision "jax==0.4.30" "jaxlib==0.4.30" "equinox==0.11.4" "numpy<2" "optax<0.2" \
    "pandas<2" "pydantic<2" pyyaml scikit-learn "scipy<1.14" \
    "tensorflow-probability==0.20.1" tqdm "torch-mist==0.2.17" plotly
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps "benchmark-mi==0.1.3"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -e .
"$VENV/bin/python" -c "import bmi, torch_mist, robustrep_lite.experiments.zoo; print('peers environment ready')"
