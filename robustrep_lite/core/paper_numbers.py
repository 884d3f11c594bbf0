"""The numbers the two papers print, in one place and labelled as theirs: nothing here is
computed by this package, and every chapter that shows one of them inserts it from here next to
the value our code measures.

- Zhu, Zhang & Evans (ICML 2020), Sections 6.1 and 6.2 and Table 1 (CIFAR-10), and
  approximate values read off their Figure 2;
- Yang, Zavatone-Veth & Pehlevan (2024), the claim of their Figures 4 and 5.
"""

from __future__ import annotations

__all__ = [
    "PAPER_ACCURACY_CEILING",
    "PAPER_FIGURE2_READINGS",
    "PAPER_LOGIT_NORMAL_MI",
    "PAPER_SPECTRAL_CLAIM",
    "PAPER_TABLE1",
    "PAPER_TABLE1_SETUP",
    "PAPER_WORST_CASE_MI",
    "paper_table1_row",
]

#: Section 6.1: the worst-case mutual information (nats) of the logit layer of an adversarially
#: trained DenseNet-121 on CIFAR-10 (eps = 8/255), the paper's example for Theorem 3.4.
PAPER_WORST_CASE_MI = 1.08
#: Section 6.1: the adversarial accuracy ceiling the paper states for that example: 77.0%.
PAPER_ACCURACY_CEILING = 0.770

#: Figure 2, read off the plot (approximate, the paper prints no table): the Theorem 3.4
#: ceiling and the measured adversarial accuracy (fractions) of standard and adversarially
#: trained CIFAR-10 models.
PAPER_FIGURE2_READINGS = {
    "standard": {"ceiling": 0.30, "accuracy": 0.0},
    "robust": {"ceiling": 0.75, "accuracy": 0.50},
}

#: Section 6.2 (citing Figure 2): "logit layer representations in robust models conveys more
#: normal-case mutual information (up to 1.75) than those in standard models (up to 1.25)"
#: (nats, the logit layers of supervised CIFAR-10 classifiers, not the unsupervised encoders of
#: Table 1); the paper offers it as the reason robustly learned representations reach a higher
#: natural accuracy on CIFAR-10, and adds that "this is not the case on MNIST".
PAPER_LOGIT_NORMAL_MI = {"robust": 1.75, "standard": 1.25}

#: Table 1 (CIFAR-10, mean over 4 trials; accuracies in %, natural then PGD-7 at 8/255):
#: (representation, head, MLP natural, MLP adversarial, linear natural, linear adversarial).
#: Head ``standard_es`` is the standard head at its early-stopping (E.S.) epoch.
PAPER_TABLE1 = [
    ("standard", "standard", 58.77, 0.22, 47.01, 0.15),
    ("standard", "robust", 29.75, 15.08, 22.79, 10.28),
    ("worst_case", "standard", 62.54, 14.06, 50.29, 10.98),
    ("worst_case", "standard_es", 51.59, 27.53, 48.55, 13.52),
    ("worst_case", "robust", 52.34, 31.52, 43.55, 25.15),
    ("supervised", "standard", 86.33, 0.07, 86.36, 0.02),
    ("supervised", "robust", 70.71, 40.50, 72.44, 39.98),
]
#: Section 6.2's training set-up behind Table 1: training images and encoder epochs.
PAPER_TABLE1_SETUP = {"train_images": 50_000, "encoder_epochs": 500}

_TABLE1_COLUMNS = ("mlp_natural", "mlp_adversarial", "linear_natural", "linear_adversarial")

#: Yang, Zavatone-Veth & Pehlevan (2024), the claim our MNIST run checks: our reading of the
#: paper's figure captions and a summary of it, not a quoted result.
PAPER_SPECTRAL_CLAIM = (
    "Yang, Zavatone-Veth & Pehlevan (2024), Figure 4 (MNIST, 784-2000-10 GELU, 10 seeds, "
    "Tangent Attack on 1000 test points): spectral regularization 'improves robustness' "
    "(caption); read as: rep-spectral gives a higher test accuracy and a larger mean "
    "adversarial distance than ll-spectral, and both more than no regularization; Figure 5: "
    "the same order for a readout re-trained on the hidden representation. The order is our "
    "reading of the captions and of a summary of the paper ('sometimes outperforming prior "
    "ll-spectral regularization'); the paper body with exact values was not available to us."
)


def paper_table1_row(representation: str, head: str) -> dict[str, float]:
    """One row of the paper's Table 1 as ``{column: accuracy in %}`` (columns ``mlp_natural``,
    ``mlp_adversarial``, ``linear_natural``, ``linear_adversarial``). Raises ``ValueError``
    naming the accepted pairs for any other ``(representation, head)``."""
    for row in PAPER_TABLE1:
        if row[:2] == (representation, head):
            return dict(zip(_TABLE1_COLUMNS, row[2:], strict=True))
    pairs = ", ".join(f"({r[0]!r}, {r[1]!r})" for r in PAPER_TABLE1)
    raise ValueError(
        f"(representation, head) must be one of {pairs}, got ({representation!r}, {head!r})"
    )
