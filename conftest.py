"""Test-suite wide settings: the suite (unit tests and the chapters under nbmake) runs in the
``quick`` profile unless ROBUSTREP_PROFILE says otherwise; nbmake passes the environment on to
each chapter's kernel. Under pytest-xdist each worker uses one torch thread, so the workers do
not oversubscribe the cores (small tensors slow down by 10-50x when they do)."""

import os

os.environ.setdefault("ROBUSTREP_PROFILE", "quick")
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
