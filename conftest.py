"""Test-suite wide settings: the suite (unit tests and the chapters under nbmake) runs in the
``quick`` profile unless ROBUSTREP_PROFILE says otherwise; nbmake passes the environment on to
each chapter's kernel."""

import os

os.environ.setdefault("ROBUSTREP_PROFILE", "quick")
