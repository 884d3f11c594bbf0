"""Test-suite wide settings: the suite (unit tests and the chapters under nbmake) runs in the
``quick`` profile unless ROBUSTREP_PROFILE says otherwise; nbmake passes the environment on to
each chapter's kernel. Tests run torch on one thread: their tensors are small, and with several
threads per pytest-xdist worker the workers oversubscribe the cores (10-50x slower)."""

import os

os.environ.setdefault("ROBUSTREP_PROFILE", "quick")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)
