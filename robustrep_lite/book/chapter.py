"""The set-up every chapter runs first: choose the profile, device and seed, make plotly figures
visible everywhere, and print a banner saying what produced the page's outputs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from robustrep_lite.book.plots import setup_plotly
from robustrep_lite.core.runtime import default_device, provenance, seed_everything
from robustrep_lite.experiments.settings import ProfileSettings, profile_reason, profile_settings
from robustrep_lite.training.data import ENV_VAR as DATA_ENV_VAR
from robustrep_lite.training.data import Splits


@dataclass(frozen=True)
class ChapterContext:
    """What a chapter needs to know about where it runs."""

    profile: ProfileSettings
    device: torch.device
    seed: int
    provenance: dict[str, str | int]


def describe_data(profile: ProfileSettings) -> str:
    """Where this profile's data comes from, in words (for banners and result files). The folder
    is named as ``$ROBUSTREP_DATA`` or the default cache folder, never as a path of the machine
    that ran the chapter."""
    if profile.data_source == "embedded":
        return "embedded offline stand-ins (scikit-learn digits, generated colour patterns)"
    where = "$ROBUSTREP_DATA" if os.environ.get(DATA_ENV_VAR) else "~/.cache/robustrep_lite/data"
    return f"real data from {where} (npz or torchvision; set ROBUSTREP_DATA)"


def setup_chapter(seed: int = 0, profile: str | None = None) -> ChapterContext:
    """Seed everything, pick profile and device, set the plotly renderer, print the banner."""
    chosen = profile_settings(profile)
    _, reason = profile_reason(profile)
    device = default_device()
    seed_everything(seed)
    renderer = setup_plotly()
    record = provenance(chosen.name, describe_data(chosen), device, seed)
    print(
        f"robustrep_lite {record['robustrep_lite']} (commit {record['git_commit']}), "
        f"torch {record['torch']}, plotly {record['plotly']}, python {record['python']}\n"
        f"profile: {chosen.name} ({reason}): {chosen.description}\n"
        f"device:  {record['device']}\n"
        f"data:    {record['data']}\n"
        f"seed:    {seed}; plotly renderer: {renderer}; run at {record['time_utc']}"
    )
    return ChapterContext(chosen, device, seed, record)


def data_summary(splits: Splits) -> str:
    """Two lines on a loaded data set: where it came from, then the shapes of the train and test
    images and the mean and standard deviation of the training pixels (a check that the data are
    what the chapter expects, e.g. pixels in [0, 1])."""
    x = splits.x_train
    return (
        f"{splits.description}\n"
        f"train {tuple(x.shape)}, test {tuple(splits.x_test.shape)}, "
        f"pixel mean {x.mean():.4f}, std {x.std():.4f}"
    )


def stored_run_line(record: dict[str, Any], script: str) -> str:
    """One line naming the run behind a stored result: the script that wrote it, when, at which
    commit, and where the record says so, with which profile, on which device and for how many
    minutes."""
    made = record["provenance"]
    parts = [f"stored run of {script}: {made['time_utc']}", f"commit {made['git_commit']}"]
    profile = record.get("profile", made.get("profile"))
    if profile:
        parts.append(f"profile {profile}")
    if made.get("device"):
        parts.append(str(made["device"]))
    if record.get("wall_s") is not None:
        parts.append(f"{record['wall_s'] / 60:.0f} min")
    return ", ".join(parts)


def glue(name: str, value: Any, display: bool = True) -> None:
    """Keep ``value`` under ``name`` for the page's ``{glue}`` roles (MyST-NB's ``glue``, which
    the book build reads), and show it too if ``display``. Where myst-nb is not installed (Colab,
    a plain Jupyter: nothing there reads glued values, and it is no dependency of this package),
    the value is only shown if ``display``. A numpy scalar is glued as the Python number it
    holds: its repr under numpy 2 (``np.float64(0.3)``) is not a number a ``{glue:text}`` format
    can read."""
    if isinstance(value, np.generic):
        value = value.item()
    try:
        from myst_nb import glue as myst_glue
    except ModuleNotFoundError as error:
        if error.name != "myst_nb":
            raise
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)


def glue_facts(facts: dict[str, Any], prefix: str = "") -> None:
    """Glue every fact for the page's prose (:func:`glue`, not displayed) under
    ``prefix + name``: a sentence (a string) as Markdown for a ``{glue:md}`` role, anything else
    (a number, an ``IPython.display.Markdown``) as it is."""
    from IPython.display import Markdown

    for name, value in facts.items():
        value = Markdown(value) if isinstance(value, str) else value
        glue(prefix + name, value, display=False)
