"""What Chapter 5 says about the Section 6.1 zoo, computed from the measurements rather than
typed: the standard-vs-robust comparison of every architecture (Figures 1 and 2), the searches
compared (``bench/zoo_search.py``) and the estimator's own spread over seeds.

Every function takes measurement records (the dicts of :func:`robustrep_lite.experiments.zoo.
logit_vulnerability` merged with :func:`robustrep_lite.experiments.zoo.attacked_accuracy`, or the
rows a stored ``bench/zoo_search.py`` run holds) and returns Markdown, so that each sentence about a
run states that run's numbers and a verdict computed from them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from robustrep_lite.experiments.settings import ZooModel

__all__ = [
    "channel_markdown",
    "comparison_markdown",
    "negative_rv_markdown",
    "pair_verdicts",
    "rows_markdown",
    "search_markdown",
    "seed_spread_markdown",
    "standard_vs_robust",
    "validation_change_markdown",
]

Record = dict[str, Any]


def standard_vs_robust(
    measured: dict[ZooModel, Record],
) -> dict[tuple[str, str], dict[str, Record]]:
    """Section 6.1's comparison: for every (data set, architecture) of ``measured`` that has a
    standard model and an adversarially trained one, ``{"standard": ..., "robust": ...}`` (the
    robust one trained at the largest radius). Pairs without both are left out."""
    out: dict[tuple[str, str], dict[str, Record]] = {}
    for m, values in measured.items():
        key = (m.dataset, m.arch)
        if m.train_eps == 0:
            out.setdefault(key, {})["standard"] = values
        else:
            robust = [k for k in measured if (k.dataset, k.arch) == key and k.train_eps > 0]
            if m.train_eps == max(k.train_eps for k in robust):
                out.setdefault(key, {})["robust"] = values
    return {k: v for k, v in out.items() if set(v) == {"standard", "robust"}}


def _yes(flag: bool) -> str:
    return "**yes**" if flag else "**no**"


def pair_verdicts(pair: dict[str, Record]) -> dict[str, bool | None]:
    """The two verdicts of a standard/robust pair, from the refit read-out: ``keeps`` -- the
    robust model's worst-case MI is higher by more than two combined standard errors;
    ``smaller_rv`` -- its RV is lower by more than two combined standard errors, or ``None``
    when either RV lies more than two standard errors below zero (a worst case that reads more
    than the clean MI: the search failed, and the RVs cannot be compared)."""
    s, r = pair["standard"], pair["robust"]
    worst_se = float(np.hypot(s["worst_stderr_refit"], r["worst_stderr_refit"]))
    rv_se = float(np.hypot(s["rv_stderr_refit"], r["rv_stderr_refit"]))
    negative = any(v["rv_refit"] < -2 * v["rv_stderr_refit"] for v in (s, r))
    return {
        "keeps": r["worst_mi_refit"] - s["worst_mi_refit"] > 2 * worst_se,
        "smaller_rv": None if negative else s["rv_refit"] - r["rv_refit"] > 2 * rv_se,
    }


def comparison_markdown(pairs: dict[tuple[str, str], dict[str, Record]]) -> str:
    """One bullet per (data set, architecture): standard -> robust values of the clean MI, the
    worst-case MI and RV under both read-outs, Theorem 3.4's bound and PGD-7 accuracy, with
    the two verdicts of :func:`pair_verdicts`."""
    if not pairs:
        return "(no data set of this profile has both a standard and a robust model)"
    lines = []
    for (dataset, arch), p in pairs.items():
        s, r = p["standard"], p["robust"]
        verdict = pair_verdicts(p)
        rv_se = float(np.hypot(s["rv_stderr_refit"], r["rv_stderr_refit"]))
        smaller = (
            "**not comparable** (a negative refit RV: the search did not find a worst case)"
            if verdict["smaller_rv"] is None
            else f"(beyond 2 s.e. = {2 * rv_se:.2f}): {_yes(verdict['smaller_rv'])}"
        )
        lines.append(
            f"- **{dataset}, {arch}** (standard → robust): I(X; g(X)) {s['normal_mi']:.2f} → "
            f"{r['normal_mi']:.2f} nats; worst case, refit {s['worst_mi_refit']:.2f} → "
            f"{r['worst_mi_refit']:.2f}, paper {s['worst_mi_paper']:.2f} → "
            f"{r['worst_mi_paper']:.2f}; RV, refit {s['rv_refit']:.2f} → {r['rv_refit']:.2f}, "
            f"paper {s['rv_paper']:.2f} → {r['rv_paper']:.2f}; Theorem 3.4 bound (refit) "
            f"{s['bound_refit']:.0%} → {r['bound_refit']:.0%}; PGD-7 accuracy "
            f"{s['pgd7_accuracy']:.1%} → {r['pgd7_accuracy']:.1%}. Robust keeps more "
            f"information under attack: {_yes(verdict['keeps'])}; robust has the smaller refit "
            f"RV {smaller}."
        )
    return "\n".join(lines)


def negative_rv_markdown(measured: dict[ZooModel, Record]) -> str:
    """The models whose refit worst-case MI exceeds their clean MI by more than two standard
    errors (a negative refit RV), or a sentence saying there are none."""
    hits = [
        f"{m.dataset}/{m.label} ({v['rv_refit']:.2f} ± {v['rv_stderr_refit']:.2f})"
        for m, v in measured.items()
        if v["rv_refit"] < -2 * v["rv_stderr_refit"]
    ]
    if not hits:
        return "no model's refit RV is more than two standard errors below zero"
    return "the refit RV is more than two standard errors below zero for " + ", ".join(hits)


def search_markdown(rows: list[Record], baseline: str = "pointwise") -> str:
    """From a stored ``bench/zoo_search.py`` run: per model the strongest search (lowest refit
    worst-case MI) and how far it reads below ``baseline``, then which searches were strongest
    how often."""
    by_model: dict[tuple[str, str], dict[str, Record]] = {}
    for row in rows:
        by_model.setdefault((row["dataset"], row["model"]), {})[row["search"]] = row
    lines, wins = [], {}
    for (dataset, model), searches in by_model.items():
        best = min(searches, key=lambda s: searches[s]["worst_mi_refit"])
        wins[best] = wins.get(best, 0) + 1
        gap = searches[baseline]["worst_mi_refit"] - searches[best]["worst_mi_refit"]
        lines.append(
            f"- {dataset}/{model}: strongest `{best}` "
            f"({searches[best]['worst_mi_refit']:.2f} nats, {gap:.2f} below `{baseline}`)"
        )
    tally = ", ".join(f"`{s}` on {n}" for s, n in sorted(wins.items(), key=lambda kv: -kv[1]))
    return "\n".join([*lines, f"\nStrongest search by model: {tally} of {len(by_model)}."])


def seed_spread_markdown(rows: list[Record]) -> str:
    """From a stored run with several estimator seeds: the range over models of the standard
    deviation of the refit and paper RVs across seeds, against the range of the standard errors
    one run reports."""
    by_model: dict[tuple[str, str], list[Record]] = {}
    for row in rows:
        by_model.setdefault((row["dataset"], row["model"]), []).append(row)
    sd = {
        read: [float(np.std([r[f"rv_{read}"] for r in rs], ddof=1)) for rs in by_model.values()]
        for read in ("refit", "paper")
    }
    se = [float(np.mean([r["rv_stderr_refit"] for r in rs])) for rs in by_model.values()]
    seeds = min(len(rs) for rs in by_model.values())
    return (
        f"Over {seeds} estimator seeds the refit RV of a model varies with a standard deviation "
        f"of {min(sd['refit']):.2f} to {max(sd['refit']):.2f} nats (paper read-out "
        f"{min(sd['paper']):.2f} to {max(sd['paper']):.2f}), where one run reports a standard "
        f"error of {min(se):.2f} to {max(se):.2f}."
    )


def channel_markdown(per_channel: dict[ZooModel, dict[str, np.ndarray]]) -> str:
    """Figure 3's analogue in words: per model (outputs of :func:`robustrep_lite.experiments.zoo.
    channel_vulnerability`) the mean MI, mean worst-case MI, share kept under attack and mean
    RV over its channels; then, for a standard/robust pair, whether the robust channels carry
    more MI and have a smaller RV (the paper's two findings)."""
    stats = {}
    lines = []
    for m, r in per_channel.items():
        mi, worst, rv = (float(np.nanmean(r[k])) for k in ("normal_mi", "worst_mi", "rv"))
        stats[m] = (mi, rv)
        kept = f"{max(worst, 0.0) / mi:.0%}" if mi > 0 else "n/a"
        lines.append(
            f"- {m.label}: mean MI {mi:.3f} nats, mean worst-case MI {worst:.3f} (kept under "
            f"attack: {kept}), mean RV {rv:.3f}, over {len(r['channel'])} channels"
        )
    standard = [m for m in stats if m.train_eps == 0]
    robust = [m for m in stats if m.train_eps > 0]
    if standard and robust:
        (s_mi, s_rv), (r_mi, r_rv) = stats[standard[0]], stats[robust[-1]]
        lines.append(
            f"- Robust channels carry more MI: {_yes(r_mi > s_mi)}; robust channels have the "
            f"smaller mean RV: {_yes(r_rv < s_rv)}."
        )
    return "\n".join(lines)


def rows_markdown(rows: list[Record]) -> str:
    """A stored zoo run (``bench/device_run.py``'s ``zoo_gpu.json``) as a Markdown table."""
    lines = [
        "| data | model | natural | PGD-7 | APGD | I(X;g(X)) | worst (refit) | RV (refit) "
        "| bound (refit) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['model']} | {r['natural_accuracy']:.1%} "
            f"| {r['pgd7_accuracy']:.1%} | {r['strong_accuracy']:.1%} | {r['normal_mi']:.2f} "
            f"| {r['worst_mi_refit']:.2f} | {r['rv_refit']:.2f} ± {r['rv_stderr_refit']:.2f} "
            f"| {r['bound_refit']:.0%} |"
        )
    return "\n".join(lines)


def validation_change_markdown(validated: list[Record], unvalidated: list[Record]) -> str:
    """The same models measured by the estimator with and without its validation split (two
    stored ``bench/zoo_search.py`` runs, per-point search, the first estimator seed of each):
    a Markdown table of clean MI, refit worst-case MI and both RVs, before -> after."""

    def first(rows: list[Record]) -> dict[tuple[str, str], Record]:
        out: dict[tuple[str, str], Record] = {}
        for r in rows:
            if r["search"] == "pointwise":
                out.setdefault((r["dataset"], r["model"]), r)
        return out

    old, new = first(unvalidated), first(validated)
    lines = [
        "| data | model | I(X;g(X)) | worst (refit) | RV (refit) | RV (paper) |",
        "|---|---|---|---|---|---|",
    ]
    for key in new:
        if key not in old:
            continue
        a, b = old[key], new[key]
        cells = [
            f"{a[k]:.2f} → {b[k]:.2f}"
            for k in ("normal_mi", "worst_mi_refit", "rv_refit", "rv_paper")
        ]
        lines.append(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
