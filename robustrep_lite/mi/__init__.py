"""Layer 1, mutual-information estimation: variational bounds on a score matrix (``bounds``),
critic networks (``critics``), the one critic-fitting loop with its ``CriticConfig``
(``fit``), :func:`~robustrep_lite.mi.estimate.estimate_mi` (``estimate``) and Gaussian
ground truths (``ground_truth``). Knows nothing of attacks or training.

The package re-exports the public names of its modules, so ``from robustrep_lite import mi``
then ``mi.estimate_mi(...)`` is the usual entry point.
"""

from robustrep_lite.mi.bounds import (
    READOUT_ESTIMATORS,
    TRAIN_ESTIMATORS,
    ScoreParts,
    dv_bound,
    dv_bound_with_zeroed_diagonal,
    infonce_bound,
    jsd_bound,
    matrix_scores,
    mine_loss,
    nwj_bound,
    nwj_js_bound,
    readout,
    sample_scores,
    smile_bound,
    training_objective,
    zeroed_diagonal_gap,
)
from robustrep_lite.mi.critics import JointCritic, LocalDIMCritic, SeparableCritic, mlp
from robustrep_lite.mi.estimate import MIEstimate, estimate_from_fit, estimate_mi
from robustrep_lite.mi.fit import (
    AUTO_CRITICS,
    CRITICS,
    DEFAULT_READOUT,
    NEGATIVES,
    PREPROCESS,
    CriticConfig,
    FitResult,
    MarginalTransform,
    fit_critic,
    make_critic,
    split_indices,
)
from robustrep_lite.mi.ground_truth import (
    correlated_gaussians,
    gaussian_mi,
    linear_gaussian_mi,
    rho_for_mi,
)

__all__ = [
    "AUTO_CRITICS",
    "CRITICS",
    "DEFAULT_READOUT",
    "NEGATIVES",
    "PREPROCESS",
    "READOUT_ESTIMATORS",
    "TRAIN_ESTIMATORS",
    "CriticConfig",
    "FitResult",
    "JointCritic",
    "LocalDIMCritic",
    "MIEstimate",
    "MarginalTransform",
    "ScoreParts",
    "SeparableCritic",
    "correlated_gaussians",
    "dv_bound",
    "dv_bound_with_zeroed_diagonal",
    "estimate_from_fit",
    "estimate_mi",
    "fit_critic",
    "gaussian_mi",
    "infonce_bound",
    "jsd_bound",
    "linear_gaussian_mi",
    "make_critic",
    "matrix_scores",
    "mine_loss",
    "mlp",
    "nwj_bound",
    "nwj_js_bound",
    "readout",
    "rho_for_mi",
    "sample_scores",
    "smile_bound",
    "split_indices",
    "training_objective",
    "zeroed_diagonal_gap",
]
