"""Colab as a user meets it: the chapters' set-up cell installs this package into Colab's own
environment, and then the chapter runs.

A fresh virtual environment gets the packages Colab preinstalls, at Colab's versions
(``tests/colab_stack.txt``, which names its source and the few ways it differs from Colab).
Then the set-up cell's own ``%pip install`` command, taken from Chapter 0, runs in it with the
GitHub URL replaced by a ``git+file://`` URL of a clone of this repository at HEAD (commit
first: the working tree's changes are not in it). The test fails if that install reinstalled,
upgraded, downgraded or removed any package that was there before, if Chapter 0 fails in the
``quick`` profile in a kernel of that environment, or if the tests of the figures and live
widgets fail against Colab's plotly, ipywidgets and IPython. It builds a 5.5 GB environment (torch
and torchvision from the local wheel store, the rest from pip's cache or the package index) and
takes a few minutes; a missing prerequisite (git, the index, the wheels) fails with pip's or
git's own message.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from robustrep_lite.core.results import REPOSITORY

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "tests" / "colab_stack.txt"
CHAPTER = ROOT / "book" / "00_how_to_use.ipynb"
#: The package the set-up cell installs, as it names it (the repository's main branch).
INSTALLED_FROM = f"git+https://github.com/{REPOSITORY}@main"
#: The tests of the presentation layer (plotly figures, ipywidgets, IPython display), run in the
#: Colab environment against Colab's versions of those packages.
BOOK_TESTS = (
    "test_ceiling_figures.py",
    "test_definition_figures.py",
    "test_mi_figures.py",
    "test_mi_report.py",
    "test_plots.py",
    "test_profiles.py",
    "test_rv_validation.py",
    "test_spectral_report.py",
    "test_table1_report.py",
    "test_theorem_figures.py",
    "test_zoo_figures.py",
    "test_zoo_report.py",
)
# Run in the Colab environment at the end of Chapter 0: the kernel is that environment's, the
# package is the installed one (not a checkout), and glue works without myst-nb, as on Colab.
CHECK_CELL = """\
import importlib.util
import json
import sys

import robustrep_lite
from robustrep_lite.book.chapter import glue_facts

glue_facts({"colab_number": 1, "colab_sentence": "A sentence."})
print(json.dumps({
    "prefix": sys.prefix,
    "package": robustrep_lite.__file__,
    "myst_nb": importlib.util.find_spec("myst_nb") is not None,
}))
"""
RUN_NOTEBOOK = """\
import sys

import nbformat
from nbclient import NotebookClient

nb = nbformat.read(sys.argv[1], as_version=4)
client = NotebookClient(
    nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}
)
client.execute()
nbformat.write(nb, sys.argv[1])
"""


@dataclass(frozen=True)
class ColabEnv:
    """The environment after the set-up cell's install, and what that install changed."""

    python: Path
    environ: dict[str, str] = field(repr=False)  # this machine's environment: not in reports
    clone: Path
    work: Path
    changes: list[str]
    added: list[str]


def _run(command: list[str], what: str, *, timeout: float, **kwargs: Any) -> str:
    """Run ``command``; fail the test with its output if it fails (``what`` says what it was)."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
        )
    except FileNotFoundError as error:
        pytest.fail(f"{what}: {error} (is it installed and on PATH?)", pytrace=False)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"{what} took more than {timeout:.0f} s:\n$ {shlex.join(command)}", pytrace=False
        )
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-6000:]
        pytest.fail(
            f"{what} failed (exit {done.returncode}):\n$ {shlex.join(command)}\n{output}",
            pytrace=False,
        )
    return done.stdout


def setup_install_args(notebook: Path, url: str) -> list[str]:
    """The arguments of the set-up cell's ``%pip`` line, with the package's GitHub URL replaced
    by ``url``; fails if the cell has no such line or it does not install from GitHub."""
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    lines = [line.strip() for line in "".join(cells[0]["source"]).splitlines()]
    pip = [line for line in lines if line.startswith("%pip install")]
    assert len(pip) == 1, f"the set-up cell of {notebook.name} must have one %pip install line"
    args = shlex.split(pip[0].removeprefix("%pip"))
    replaced = [arg.replace(INSTALLED_FROM, url) for arg in args]
    assert sum(a != b for a, b in zip(args, replaced, strict=True)) == 1, (
        f"the set-up cell must install from {INSTALLED_FROM}, got: {pip[0]}"
    )
    return replaced


def installed(python: Path, environ: dict[str, str]) -> dict[str, tuple[str, int, int]]:
    """Every distribution in ``python``'s environment: version, and the inode and change time of
    its metadata (a reinstall writes new metadata even at the same version)."""
    report = json.loads(
        _run([str(python), "-m", "pip", "inspect"], "pip inspect", timeout=300, env=environ)
    )
    out = {}
    for dist in report["installed"]:
        name = re.sub(r"[-_.]+", "-", dist["metadata"]["name"]).lower()
        stat = Path(dist["metadata_location"]).stat()
        out[name] = (dist["metadata"]["version"], stat.st_ino, stat.st_ctime_ns)
    return out


def compare(
    before: dict[str, tuple[str, int, int]], after: dict[str, tuple[str, int, int]]
) -> tuple[list[str], list[str]]:
    """What happened to each package of ``before`` (upgraded, downgraded, reinstalled, removed),
    and the packages ``after`` added."""
    changes = []
    for name, (version, *identity) in sorted(before.items()):
        if name not in after:
            changes.append(f"{name} {version} removed")
            continue
        new, *new_identity = after[name]
        if new != version:
            way = "upgraded" if Version(new) > Version(version) else "downgraded"
            changes.append(f"{name} {way} {version} -> {new}")
        elif new_identity != identity:
            changes.append(f"{name} {version} reinstalled")
    added = [f"{name} {after[name][0]}" for name in sorted(set(after) - set(before))]
    return changes, added


# Session scope: `make test` runs this file's tests on one worker (--dist loadfile), and the
# environment outlives whatever else that worker runs between them.
@pytest.fixture(scope="session")
def colab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ColabEnv]:
    """Colab's stack in a fresh virtual environment, then the set-up cell's install."""
    tmp = tmp_path_factory.mktemp("colab")
    env_dir, clone, work = tmp / "venv", tmp / "clone", tmp / "work"
    work.mkdir()
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")
    }
    environ.update(
        PATH=f"{env_dir / 'bin'}{os.pathsep}{environ.get('PATH', '')}",
        VIRTUAL_ENV=str(env_dir),
        ROBUSTREP_PROFILE="quick",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        JUPYTER_DATA_DIR=str(tmp / "jupyter"),  # no kernel spec of this machine's user
    )
    python = env_dir / "bin" / "python"
    try:
        _run([sys.executable, "-m", "venv", str(env_dir)], "creating a venv", timeout=300)
        pip = next(line for line in STACK.read_text().splitlines() if line.startswith("pip=="))
        install = [str(python), "-m", "pip", "install", "--quiet", "--no-compile"]
        _run([*install, pip], f"installing {pip}", timeout=600, env=environ)
        _run(
            [*install, "-r", str(STACK)],
            f"installing Colab's stack ({STACK.name}; torch and torchvision come from the local "
            "wheel store, the rest from pip's cache or the package index)",
            timeout=1800,
            env=environ,
        )
        before = installed(python, environ)

        head = _run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], "git rev-parse", timeout=60)
        _run(["git", "clone", "--quiet", str(ROOT), str(clone)], "git clone", timeout=300)
        args = setup_install_args(CHAPTER, f"git+file://{clone}@{head.strip()}")
        _run(
            [str(python), "-m", "pip", *args],
            "the set-up cell's install",
            timeout=1200,
            env=environ,
            cwd=work,
        )
        changes, added = compare(before, installed(python, environ))
        yield ColabEnv(python, environ, clone, work, changes, added)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # 5.5 GB


def test_compare_names_every_change_to_a_preinstalled_package() -> None:
    before = {"a": ("1.0", 1, 10), "b": ("2.0", 2, 20), "c": ("3.0", 3, 30), "d": ("1.0", 4, 40)}
    after = {"a": ("1.0", 1, 10), "b": ("1.9", 5, 50), "c": ("3.0", 6, 60), "e": ("0.1", 7, 70)}
    after["d"] = ("1.10", 8, 80)  # a version order, not a string order
    changes, added = compare(before, after)
    assert changes == ["b downgraded 2.0 -> 1.9", "c 3.0 reinstalled", "d upgraded 1.0 -> 1.10"]
    assert added == ["e 0.1"]
    assert compare(before, {"a": ("1.0", 1, 10)})[0][-3:] == [
        "b 2.0 removed",
        "c 3.0 removed",
        "d 1.0 removed",
    ]


def test_the_install_command_is_the_set_up_cells_with_the_url_replaced(tmp_path: Path) -> None:
    args = setup_install_args(CHAPTER, "git+file:///clone@abc")
    assert args[0] == "install" and "robustrep_lite @ git+file:///clone@abc" in args
    nb = json.loads(CHAPTER.read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    cell["source"] = "".join(cell["source"]).replace(INSTALLED_FROM, "git+https://example/x")
    other = tmp_path / "other.ipynb"
    other.write_text(json.dumps(nb))
    with pytest.raises(AssertionError, match="must install from"):
        setup_install_args(other, "git+file:///clone@abc")


def test_setup_cell_install_changes_no_preinstalled_package(colab: ColabEnv) -> None:
    assert not colab.changes, (
        "installing robustrep_lite the way the set-up cell does changed Colab's packages:\n"
        + "\n".join(colab.changes)
        + "\n(added: "
        + ", ".join(colab.added)
        + ")"
    )
    assert any(line.startswith("robustrep-lite ") for line in colab.added)


def test_chapter_0_runs_in_the_colab_environment(colab: ColabEnv) -> None:
    nb = json.loads(CHAPTER.read_text())
    nb["cells"].append(
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": CHECK_CELL,
        }
    )
    path = colab.work / CHAPTER.name
    path.write_text(json.dumps(nb))
    _run(
        [str(colab.python), "-c", RUN_NOTEBOOK, str(path), str(colab.work)],
        f"running {CHAPTER.name} in the Colab environment",
        timeout=900,
        env=colab.environ,
        cwd=colab.work,
    )
    done = json.loads(path.read_text())
    banner = "".join(done["cells"][1]["outputs"][0]["text"])
    assert "profile: quick" in banner
    report = json.loads("".join(done["cells"][-1]["outputs"][0]["text"]))
    env_dir = colab.python.parent.parent
    assert Path(report["prefix"]) == env_dir  # the kernel ran in the Colab environment
    assert Path(report["package"]).is_relative_to(env_dir)  # the installed package, no checkout
    assert report["myst_nb"] is False


def test_figures_and_widgets_work_with_colabs_plotly_and_ipywidgets(colab: ColabEnv) -> None:
    out = _run(
        [
            str(colab.python),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            *(f"tests/{name}" for name in BOOK_TESTS),
        ],
        "the figure and widget tests under Colab's packages",
        timeout=900,
        env=colab.environ,
        cwd=colab.clone,
    )
    summary = out.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary, summary
