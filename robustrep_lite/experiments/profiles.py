"""Experiment profiles: one switch, the ``ROBUSTREP_PROFILE`` environment variable, selects how
much compute every chapter and command spends.

- ``quick``: CI. Embedded offline data, tiny models, seconds per chapter. Every code path runs;
  the numbers are not meaningful.
- ``cpu``: real data subsets (MNIST, a CIFAR-10 subset), minutes on a laptop CPU.
- ``gpu``: the paper's architecture (width 1, 2048-unit critic, PGD-7 at 8/255) on the whole
  training set, each encoder trained for a wall-clock budget instead of 500 epochs: Table 1 for
  one seed and the Section 6.1 zoo in minutes on one GPU (the fast step: bf16, channels-last).
- ``paper``: the paper's settings (full CIFAR-10, 500 epochs, 2048-unit critic, fp32), days of
  GPU time.

Default when the variable is unset: ``quick`` if ``CI`` is set, else ``gpu`` on a CUDA GPU,
else ``cpu`` (``paper`` only by name). The choice and the reason for it are always printed by
the chapters.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from robustrep_lite.core.validation import check_choice

ENV_VAR = "ROBUSTREP_PROFILE"
PROFILE_NAMES = ("quick", "cpu", "gpu", "paper")


@dataclass(frozen=True)
class Profile:
    """The settings one profile gives every experiment; chapters read these, never edit them."""

    name: str
    description: str
    data_source: str  # "embedded" (no download) or "auto" (npz / torchvision, see data.py)
    train_size: int | None  # training images per data set (None: all)
    test_size: int | None
    epochs: int
    batch_size: int
    critic_units: int  # width of the Deep InfoMax critic (the paper: 2048)
    pgd_steps: int  # PGD iterations of the worst-case search (the paper: 7)
    seeds: int  # independent repetitions behind each reported mean
    monte_carlo_samples: int  # samples per Monte Carlo check of a closed form


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        description="CI: embedded offline data, tiny models, numbers not meaningful",
        data_source="embedded",
        train_size=256,
        test_size=128,
        epochs=1,
        batch_size=64,
        critic_units=32,
        pgd_steps=2,
        seeds=1,
        monte_carlo_samples=20_000,
    ),
    "cpu": Profile(
        name="cpu",
        description="real data subsets, minutes on a laptop CPU",
        data_source="auto",
        train_size=10_000,
        test_size=2_000,
        epochs=10,
        batch_size=128,
        critic_units=256,
        pgd_steps=7,
        seeds=3,
        monte_carlo_samples=400_000,
    ),
    "gpu": Profile(
        name="gpu",
        description="one GPU, minutes: full data, the paper's networks, a time budget per encoder",
        data_source="auto",
        train_size=None,
        test_size=None,
        epochs=500,
        batch_size=128,
        critic_units=2048,
        pgd_steps=7,
        seeds=1,
        monte_carlo_samples=2_000_000,
    ),
    "paper": Profile(
        name="paper",
        description="the paper's settings (full data, 500 epochs, 2048-unit critic), GPU",
        data_source="auto",
        train_size=None,
        test_size=None,
        epochs=500,
        batch_size=128,
        critic_units=2048,
        pgd_steps=7,
        seeds=4,
        monte_carlo_samples=2_000_000,
    ),
}


def profile_reason(name: str | None = None) -> tuple[str, str]:
    """Return ``(profile name, why it was chosen)`` without building anything else."""
    if name is not None:
        return check_choice("name", name, PROFILE_NAMES), "passed explicitly"
    value = os.environ.get(ENV_VAR, "").strip()
    if value:
        return check_choice(ENV_VAR, value, PROFILE_NAMES), f"{ENV_VAR}={value}"
    if os.environ.get("CI"):
        return "quick", f"{ENV_VAR} unset and CI is set"
    import torch

    if torch.cuda.is_available():
        return "gpu", f"{ENV_VAR} unset and a CUDA GPU is present"
    return "cpu", f"{ENV_VAR} unset and no GPU"


def active_profile(name: str | None = None) -> Profile:
    """The profile in force: ``name`` if given, else ``$ROBUSTREP_PROFILE``, else the default.

    Raises ``ValueError`` naming the variable and the accepted values for an unknown name.
    """
    return PROFILES[profile_reason(name)[0]]


def profiles_markdown() -> str:
    """The profile table as Markdown, for the book (generated, so it can never drift)."""
    names = [f.name for f in dataclasses.fields(Profile) if f.name != "name"]
    header = "| setting | " + " | ".join(f"`{name}`" for name in PROFILE_NAMES) + " |"
    rule = "|---" * (len(PROFILE_NAMES) + 1) + "|"
    rows = []
    for field in names:
        values = [getattr(PROFILES[name], field) for name in PROFILE_NAMES]
        cells = ["all" if value is None else str(value) for value in values]
        rows.append(f"| {field} | " + " | ".join(cells) + " |")
    return "\n".join([header, rule, *rows])
