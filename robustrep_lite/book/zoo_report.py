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
    "FOOLED_BELOW",
    "GPU_RESULT",
    "SEARCHES",
    "SEARCH_RESULT",
    "SEEDS_RESULT",
    "UNVALIDATED_RESULT",
    "accuracy_markdown",
    "bound_check_line",
    "bound_violations",
    "channel_facts",
    "channel_markdown",
    "comparison_markdown",
    "coverage_line",
    "eps_label",
    "fooled_markdown",
    "logit_bounds_markdown",
    "logit_mi_markdown",
    "merge_measurements",
    "negative_rv_markdown",
    "pair_verdicts",
    "rows_markdown",
    "search_markdown",
    "search_table_markdown",
    "seed_pairs",
    "seed_spread_markdown",
    "seed_table_markdown",
    "standard_vs_robust",
    "validation_change_markdown",
    "validation_lower_counts",
    "verdict_counts",
]

Record = dict[str, Any]

#: The searches over A(S, eps) that ``bench/zoo_search.py`` compares, the paper's first.
SEARCHES = ("pointwise", "universal", "both")
#: Where ``bench/zoo_search.py --profile cpu`` stores its run (relative to the repository root).
SEARCH_RESULT = "bench/results/zoo_search.json"
#: The per-point search with five estimator seeds (``--estimator-seeds 0 1 2 3 4``).
SEEDS_RESULT = "bench/results/zoo_estimator_seeds.json"
#: The per-point search without the estimator's validation split (``--validation-fraction 0``).
UNVALIDATED_RESULT = "bench/results/zoo_search_unvalidated.json"
#: Where the prepared GPU run's zoo (``bench/device_run.py``'s ``zoo_gpu.json``, the ``gpu``
#: profile) is stored once one has run.
GPU_RESULT = "bench/results/device/zoo_gpu.json"


def eps_label(dataset: str, eps: float) -> str:
    """An l_inf radius as the paper writes it: in 1/255 steps on CIFAR-10 (``8/255``), as a
    decimal elsewhere (MNIST's ``0.3``)."""
    return f"{round(eps * 255)}/255" if dataset == "cifar10" else f"{eps:g}"


def accuracy_markdown(accuracies: dict[tuple[ZooModel, float], Record]) -> str:
    """Section 6.1's accuracies as a Markdown table, one row per (model, evaluation radius):
    natural, under the paper's PGD-7 and under APGD-CE + APGD-T (the records of
    :func:`robustrep_lite.experiments.zoo.attacked_accuracy`)."""
    lines = [
        "| data | model | evaluation ε | natural | PGD-7 | APGD-CE + APGD-T |",
        "|---|---|---|---|---|---|",
    ]
    for (m, eps), a in accuracies.items():
        lines.append(
            f"| {m.dataset} | {m.label} | {eps_label(m.dataset, eps)} "
            f"| {a['natural_accuracy']:.1%} | {a['pgd7_accuracy']:.1%} "
            f"| {a['strong_accuracy']:.1%} |"
        )
    return "\n".join(lines)


def merge_measurements(
    vulnerability: dict[ZooModel, Record], accuracies: dict[tuple[ZooModel, float], Record]
) -> dict[ZooModel, Record]:
    """Per model, its logit-layer record (:func:`robustrep_lite.experiments.zoo.
    logit_vulnerability`) merged with its accuracies at the same radius, the record every other
    function of this module reads."""
    return {m: {**accuracies[m, v["eps"]], **v} for m, v in vulnerability.items()}


def logit_mi_markdown(measured: dict[ZooModel, Record]) -> str:
    """Figures 1 and 2 as numbers, the MI half: per model the clean MI of the logit layer and
    its worst case and RV under both read-outs, with standard errors (7 columns)."""
    lines = [
        "| data | model | I(X;g(X)) | worst (paper) | worst (refit) | RV (paper) | RV (refit) |",
        "|---|---|---|---|---|---|---|",
    ]
    for m, v in measured.items():
        lines.append(
            f"| {m.dataset} | {m.label} | {v['normal_mi']:.2f} ± {v['normal_stderr']:.2f} "
            f"| {v['worst_mi_paper']:.2f} | {v['worst_mi_refit']:.2f} "
            f"| {v['rv_paper']:.2f} ± {v['rv_stderr_paper']:.2f} "
            f"| {v['rv_refit']:.2f} ± {v['rv_stderr_refit']:.2f} |"
        )
    return "\n".join(lines)


def logit_bounds_markdown(measured: dict[ZooModel, Record]) -> str:
    """Figure 2's right half as numbers: per model Theorem 3.4's upper bound on adversarial
    accuracy from each read-out's worst-case MI, beside the measured PGD-7 and APGD accuracies
    at the same radius (6 columns)."""
    lines = [
        "| data | model | Thm 3.4 bound (paper) | Thm 3.4 bound (refit) | PGD-7 acc | APGD acc |",
        "|---|---|---|---|---|---|",
    ]
    for m, v in measured.items():
        lines.append(
            f"| {m.dataset} | {m.label} | {v['bound_paper']:.0%} | {v['bound_refit']:.0%} "
            f"| {v['pgd7_accuracy']:.1%} | {v['strong_accuracy']:.1%} |"
        )
    return "\n".join(lines)


def bound_violations(measured: dict[ZooModel, Record]) -> list[str]:
    """Where Theorem 3.4's bound (either read-out) lies strictly below the accuracy under the
    strongest attack measured (the lower of PGD-7 and APGD), as ``"data/model (read: bound b <
    APGD a)"``. The true robust accuracy is at most that accuracy and at most the bound of the
    true worst-case MI, so each entry says that the worst-case MI was under-estimated, or that
    both attacks missed adversarial examples that exist, or the finite test sample's error."""
    out = []
    for m, v in measured.items():
        attack, accuracy = min(
            (("PGD-7", v["pgd7_accuracy"]), ("APGD", v["strong_accuracy"])), key=lambda a: a[1]
        )
        for read in ("paper", "refit"):
            if v[f"bound_{read}"] < accuracy:
                out.append(
                    f"{m.dataset}/{m.label} ({read}: bound {v[f'bound_{read}']:.1%} "
                    f"< {attack} {accuracy:.1%})"
                )
    return out


def bound_check_line(measured: dict[ZooModel, Record]) -> str:
    """:func:`bound_violations` in one line (``none`` when every bound holds)."""
    found = bound_violations(measured)
    return "bound below the strongest attack's accuracy: " + ("; ".join(found) if found else "none")


#: A paper read-out of the worst-case MI below this many nats counts as a fooled critic.
FOOLED_BELOW = 0.05


def fooled_markdown(measured: dict[ZooModel, Record], below: float = FOOLED_BELOW) -> str:
    """The models whose paper read-out of the worst-case MI is below ``below`` nats (the
    attacked critic driven to about zero), or ``no model``."""
    fooled = [f"{m.dataset}/{m.label}" for m, v in measured.items() if v["worst_mi_paper"] < below]
    return ", ".join(fooled) if fooled else "no model"


def verdict_counts(pairs: dict[tuple[str, str], dict[str, Record]]) -> dict[str, int]:
    """How the standard/robust pairs of :func:`standard_vs_robust` (or :func:`seed_pairs`) vote
    (:func:`pair_verdicts`): ``pairs``, ``comparable`` (pairs whose search did not fail), and of
    those ``keeps`` (robust keeps more information under attack) and ``smaller`` (robust has
    the smaller refit RV)."""
    verdicts = [pair_verdicts(p) for p in pairs.values()]
    comparable = [v for v in verdicts if v["smaller_rv"] is not None]
    return {
        "pairs": len(pairs),
        "keeps": sum(bool(v["keeps"]) for v in comparable),
        "comparable": len(comparable),
        "smaller": sum(bool(v["smaller_rv"]) for v in comparable),
    }


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
    ``smaller_rv`` -- its RV is lower by more than two combined standard errors. Both are
    ``None`` when either RV lies more than two standard errors below zero: a worst case that
    reads more than the clean MI means the search failed, so neither worst case can be
    compared. The standard errors are whatever the records carry: one run's read-out error
    (:func:`logit_vulnerability`) or the spread over estimator seeds (:func:`seed_pairs`)."""
    s, r = pair["standard"], pair["robust"]
    worst_se = float(np.hypot(s["worst_stderr_refit"], r["worst_stderr_refit"]))
    rv_se = float(np.hypot(s["rv_stderr_refit"], r["rv_stderr_refit"]))
    if any(v["rv_refit"] < -2 * v["rv_stderr_refit"] for v in (s, r)):
        return {"keeps": None, "smaller_rv": None}
    return {
        "keeps": r["worst_mi_refit"] - s["worst_mi_refit"] > 2 * worst_se,
        "smaller_rv": s["rv_refit"] - r["rv_refit"] > 2 * rv_se,
    }


def seed_pairs(record: Record) -> dict[tuple[str, str], dict[str, Record]]:
    """The standard/robust pairs (:func:`standard_vs_robust`: the robust model trained at the
    largest radius) of a stored run with several estimator seeds (``bench/zoo_search.py
    --estimator-seeds``; its ``settings["models"]`` name the models), each model summarised over
    its seeds: the mean of ``normal_mi``, ``worst_mi_refit`` and ``rv_refit``, with the
    standard error of each mean from the seeds' spread (sample standard deviation /
    sqrt(seeds)) as ``worst_stderr_refit`` and ``rv_stderr_refit``, so that
    :func:`pair_verdicts` and :func:`verdict_counts` judge the pair by the estimator's
    run-to-run error rather than one run's read-out error."""
    models = {
        (m.dataset, m.label): m for m in (ZooModel(**spec) for spec in record["settings"]["models"])
    }
    by_model: dict[ZooModel, list[Record]] = {}
    for row in record["rows"]:
        by_model.setdefault(models[row["dataset"], row["model"]], []).append(row)
    summaries: dict[ZooModel, Record] = {}
    for m, runs in by_model.items():
        if len(runs) < 2:
            raise ValueError(f"rows must hold at least two estimator seeds per model: {m.label}")
        values = {
            key: np.array([run[key] for run in runs], dtype=float)
            for key in ("normal_mi", "worst_mi_refit", "rv_refit")
        }
        summary: Record = {key: float(v.mean()) for key, v in values.items()}
        summary["seeds"] = len(runs)
        for key, se_key in (
            ("worst_mi_refit", "worst_stderr_refit"),
            ("rv_refit", "rv_stderr_refit"),
        ):
            summary[se_key] = float(values[key].std(ddof=1) / np.sqrt(len(runs)))
        summaries[m] = summary
    return standard_vs_robust(summaries)


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
        failed = "**not comparable** (a negative refit RV: the search did not find a worst case)"
        keeps = failed if verdict["keeps"] is None else _yes(verdict["keeps"])
        smaller = (
            failed
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
            f"information under attack: {keeps}; robust has the smaller refit "
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
    worst-case MI) and, unless it is ``baseline`` itself, how far it reads below ``baseline``,
    then which searches were strongest how often."""
    by_model: dict[tuple[str, str], dict[str, Record]] = {}
    for row in rows:
        by_model.setdefault((row["dataset"], row["model"]), {})[row["search"]] = row
    lines, wins = [], {}
    for (dataset, model), searches in by_model.items():
        best = min(searches, key=lambda s: searches[s]["worst_mi_refit"])
        wins[best] = wins.get(best, 0) + 1
        gap = searches[baseline]["worst_mi_refit"] - searches[best]["worst_mi_refit"]
        versus = "" if best == baseline else f", {gap:.2f} below `{baseline}`"
        lines.append(
            f"- {dataset}/{model}: strongest `{best}` "
            f"({searches[best]['worst_mi_refit']:.2f} nats{versus})"
        )
    tally = ", ".join(f"`{s}` on {n}" for s, n in sorted(wins.items(), key=lambda kv: -kv[1]))
    return "\n".join([*lines, f"\nStrongest search by model: {tally} of {len(by_model)}."])


def search_table_markdown(rows: list[Record], searches: tuple[str, ...] = SEARCHES) -> str:
    """A stored ``bench/zoo_search.py`` run as a Markdown table, one row per model: the clean
    MI, the refit worst-case MI of every search, the strongest search (lowest refit value) with
    its Theorem 3.4 bound, and the paper read-out of every search (6 columns)."""
    by_model: dict[tuple[str, str], dict[str, Record]] = {}
    for row in rows:
        by_model.setdefault((row["dataset"], row["model"]), {})[row["search"]] = row
    names = " / ".join(searches)
    lines = [
        f"| data | model | I(X;g(X)) | worst, refit: {names} | strongest (refit) "
        f"| worst, paper: {names} |",
        "|---|---|---|---|---|---|",
    ]
    for (dataset, model), found in by_model.items():
        refit = {s: found[s]["worst_mi_refit"] for s in searches}
        paper = " / ".join(f"{found[s]['worst_mi_paper']:.2f}" for s in searches)
        strongest = min(refit, key=lambda s: refit[s])
        lines.append(
            f"| {dataset} | {model} | {found[searches[0]]['normal_mi']:.2f} "
            f"| {' / '.join(f'{refit[s]:.2f}' for s in searches)} "
            f"| {strongest} (bound {found[strongest]['bound_refit']:.0%}) | {paper} |"
        )
    return "\n".join(lines)


def _mean_sd(rows: list[Record], key: str) -> str:
    values = np.array([row[key] for row in rows])
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


def _low_high(rows: list[Record], key: str) -> str:
    return f"{min(r[key] for r in rows):.0%}-{max(r[key] for r in rows):.0%}"


def seed_table_markdown(record: Record) -> str:
    """A stored run with several estimator seeds (``bench/zoo_search.py --estimator-seeds``) as
    a captioned Markdown table, one row per model: mean ± sample standard deviation over seeds
    of the clean MI and both RVs, and the lowest-highest Theorem 3.4 bound of each read-out
    (7 columns)."""
    by_model: dict[tuple[str, str], list[Record]] = {}
    for row in record["rows"]:
        by_model.setdefault((row["dataset"], row["model"]), []).append(row)
    lines = [
        "| data | model | seeds | I(X;g(X)) | RV (paper) | RV (refit) | bound (paper / refit) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (dataset, model), rows in by_model.items():
        cells = [_mean_sd(rows, k) for k in ("normal_mi", "rv_paper", "rv_refit")]
        bounds = f"{_low_high(rows, 'bound_paper')} / {_low_high(rows, 'bound_refit')}"
        lines.append(
            f"| {dataset} | {model} | {len(rows)} | " + " | ".join(cells) + f" | {bounds} |"
        )
    return (
        "Mean ± standard deviation over estimator seeds (bounds: lowest-highest), commit "
        f"{record['provenance']['git_commit']}:\n\n" + "\n".join(lines)
    )


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


def channel_facts(
    per_channel: dict[ZooModel, dict[str, np.ndarray]], total_channels: int, steps: int
) -> dict[str, Any]:
    """What Chapter 5's prose states about Figure 3's run, by name: ``lines``
    (:func:`channel_markdown`, Markdown), ``count`` (channels measured per model), ``total``
    (``total_channels``, the channels of the conv layer), ``steps`` (each channel critic's
    training steps) and ``held_out`` (the images each value is read on)."""
    if not per_channel:
        raise ValueError("per_channel must hold at least one model")
    first = next(iter(per_channel.values()))
    return {
        "lines": channel_markdown(per_channel),
        "count": len(first["channel"]),
        "total": int(total_channels),
        "steps": int(steps),
        "held_out": int(first["held_out_points"]),
    }


def coverage_line(record: Record) -> str:
    """How much of its zoo (Section 6.1) a stored GPU run (``bench/device_run.py``'s
    ``zoo_gpu.json``) evaluated: every planned model (``models_planned``), or which ones it did
    not evaluate -- those it listed as ``skipped`` because its time ran out, and any other
    planned one as stopped before (the run raised or was killed). A record without
    ``models_planned`` only says how many it evaluated."""
    done = [f"{r['dataset']}/{r['model']}" for r in record["rows"]]
    if "models_planned" not in record:
        return f"{len(done)} models evaluated."
    planned, skipped = record["models_planned"], record.get("skipped", [])
    missing = [m for m in planned if m not in done]
    if not missing:
        return f"All {len(planned)} models of the run's zoo were evaluated."
    parts = [
        f"{len(planned) - len(missing)} of {len(planned)} models of the run's zoo were evaluated"
    ]
    late = [m for m in missing if m in skipped]
    stopped = [m for m in missing if m not in skipped]
    if late:
        parts.append(f"not evaluated as the run's time ran out: {', '.join(late)}")
    if stopped:
        parts.append(f"the run stopped before evaluating: {', '.join(stopped)}")
    return "; ".join(parts) + "."


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


def _first_pointwise(rows: list[Record]) -> dict[tuple[str, str], Record]:
    """Per (data set, model), its first per-point-search row (the first estimator seed)."""
    out: dict[tuple[str, str], Record] = {}
    for r in rows:
        if r["search"] == "pointwise":
            out.setdefault((r["dataset"], r["model"]), r)
    return out


def validation_lower_counts(validated: list[Record], unvalidated: list[Record]) -> dict[str, int]:
    """On how many of the models both stored runs measured (per-point search, first estimator
    seed) the validated estimator reads lower: ``normal_mi`` (clean MI), ``rv_refit``, and
    ``models``, the number of models compared."""
    old, new = _first_pointwise(unvalidated), _first_pointwise(validated)
    common = [k for k in new if k in old]
    out = {key: sum(new[k][key] < old[k][key] for k in common) for key in ("normal_mi", "rv_refit")}
    return {**out, "models": len(common)}


def validation_change_markdown(validated: list[Record], unvalidated: list[Record]) -> str:
    """The same models measured by the estimator with and without its validation split (two
    stored ``bench/zoo_search.py`` runs, per-point search, the first estimator seed of each):
    a Markdown table of clean MI, refit worst-case MI and both RVs, before -> after."""
    old, new = _first_pointwise(unvalidated), _first_pointwise(validated)
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
