"""What Chapter 5 shows of the worst-case MI estimator checked where the answer is exact:
Theorem 3.2's Gaussian mixture with the sign code ``g(x) = sgn(w . x)`` (Section 3.1), run by
``bench/gaussian_rv_validation.py`` with the paper's per-point search and with a universal
perturbation (Section 4, eq. (4.2)-(4.3)).

Every function takes the stored runs, ``{search: record}`` with the records that script writes
(``rows`` with the exact RV, both read-outs, the oracle and the true RV of the points found, and
a ``summary``), and returns Markdown or a number; the numbers come from the script and
:func:`robustrep_lite.theory.measures.sign_rv_of_points`, this module only lays them out.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "GAUSSIAN_RESULTS",
    "oracle_max_error",
    "validation_facts",
    "validation_markdown",
]

Record = dict[str, Any]

#: The stored runs, by search (relative to the repository root): two seeds of the per-point
#: search (``--seeds 0 1``), one of the universal perturbation (``--search universal``).
GAUSSIAN_RESULTS = {
    "pointwise": "bench/results/vulnerability_gaussian.json",
    "universal": "bench/results/vulnerability_gaussian_universal.json",
}


def _sorted_rows(run: Record) -> list[Record]:
    return sorted(run["rows"], key=lambda r: (r["norm"], r["eps"], r["seed"]))


def validation_markdown(runs: dict[str, Record]) -> str:
    """The validation as a Markdown table (7 columns), one row per (search, seed, p, ε): the
    exact RV of Theorem 3.2, the paper and refit read-outs with standard errors (✓ / ✗: the
    refit read-out within the target), the oracle (the refit estimator on the exact worst
    case) and the true RV of the points the search found; then per search how many rows of
    each read-out meet the target ``|error| <= max(10% of exact, 0.01 nats)``."""
    lines = [
        "| search (seed) | p, ε | exact RV | paper read-out | refit read-out | oracle "
        "| true RV of the points found |",
        "|---|---|---|---|---|---|---|",
    ]
    for search, run in runs.items():
        for r in _sorted_rows(run):
            ok = "✓" if r["refit_within"] else "✗"
            lines.append(
                f"| {search} ({r['seed']}) | {r['norm']}, {r['eps']:g} | {r['exact_rv']:.4f} "
                f"| {r['paper_rv']:.4f} ± {r['paper_se']:.4f} "
                f"| {r['refit_rv']:.4f} ± {r['refit_se']:.4f} {ok} "
                f"| {r['oracle_rv']:.4f} | {r['found_rv']:.4f} |"
            )
    lines.append("")
    for search, run in runs.items():
        n, s = len(run["rows"]), run["summary"]
        lines.append(
            f"- {search}: within the target (|error| ≤ max(10 % of exact, 0.01 nats)): "
            f"refit {s['refit']['within_target']}/{n}, paper {s['paper']['within_target']}/{n}, "
            f"oracle {s['oracle']['within_target']}/{n}"
        )
    return "\n".join(lines)


def oracle_max_error(runs: dict[str, Record]) -> float:
    """The largest ``|oracle RV - exact RV|`` over every row of every run (nats): how far the
    refit estimator lands from the truth when the search is not at fault."""
    errors = [abs(r["oracle_rv"] - r["exact_rv"]) for run in runs.values() for r in run["rows"]]
    if not errors:
        raise ValueError("runs must hold at least one row")
    return max(errors)


def validation_facts(runs: dict[str, Record]) -> dict[str, Any]:
    """What Chapter 5's prose states about the Gaussian validation (Theorem 3.2's setting), by
    name: ``oracle_max_err`` (:func:`oracle_max_error`), the points (``n``), critic steps
    (``steps``) and training bound (``estimator``) of the first run, and per search ``<search>_met``
    (rows whose refit read-out meets the target) of ``<search>_rows`` and ``<search>_seeds``.
    The runs must share ``n``, ``steps`` and ``estimator``."""
    first = next(iter(runs.values()))["config"]
    for search, run in runs.items():
        for key in ("n", "steps", "estimator"):
            if run["config"][key] != first[key]:
                raise ValueError(f"runs must share config {key!r}; {search!r} differs")
    out: dict[str, Any] = {
        "oracle_max_err": oracle_max_error(runs),
        "n": int(first["n"]),
        "steps": int(first["steps"]),
        "estimator": str(first["estimator"]).upper(),
    }
    for search, run in runs.items():
        out[f"{search}_met"] = int(run["summary"]["refit"]["within_target"])
        out[f"{search}_rows"] = len(run["rows"])
        out[f"{search}_seeds"] = len({r["seed"] for r in run["rows"]})
    return out
