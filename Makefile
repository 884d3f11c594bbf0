# Two commands do all set-up on a fresh machine (see README.md):
#   make book   builds the book into _build/html (the main job)
#   make test   runs the whole test suite, exactly as CI does (.ci/run)
# Both create (or reuse) the virtual environment .venv and the offline book assets first.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.ready
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: book test chapters lint browser clean

# The environment: this package with its dev and book extras, exact versions from
# constraints.txt (torch and torchvision come from the local wheel store where there is one),
# and the JavaScript the built site serves itself (package.json, via npm ci).
$(READY): pyproject.toml constraints.txt package.json package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,book]"
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

book: $(READY)
	$(VENV)/bin/jupyter-book build . --builder html -W --keep-going
	@echo "The book is in _build/html/index.html"

# Debian's Chromium, for the browser test of the built site.
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq chromium >/dev/null; }

# --dist loadfile: each test file runs on one worker, so a file's session fixtures (the book's
# build, the Colab environment) are made once. (pytest-xdist 3.8's loadgroup does not group
# under pytest 9, whose items no longer take the group suffix xdist writes to their node ids.)
test: $(READY) browser
	$(PY) -m pytest -n 2 --dist loadfile --durations=15

# Re-run every chapter top to bottom in a fresh kernel and store its outputs in the notebook,
# in the profile given by ROBUSTREP_PROFILE (e.g. ROBUSTREP_PROFILE=cpu ROBUSTREP_DATA=... ).
chapters: $(READY)
	@test -n "$$ROBUSTREP_PROFILE" || { echo "set ROBUSTREP_PROFILE (quick, cpu, gpu or paper)"; exit 2; }
	$(PY) -m pytest book --overwrite -p no:xdist -v

lint: $(READY)
	$(VENV)/bin/ruff check robustrep_lite tests bench book/_ext
	$(VENV)/bin/ruff format --check robustrep_lite tests bench book/_ext

clean:
	rm -rf _build
