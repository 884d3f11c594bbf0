"""Layer 3, training: data loading (``data``), the networks (``models``), objective (5.2)
for encoders (``encoder``), classifiers and heads, standard or adversarial (``supervised``),
the spectral regulariser (``spectral``), checkpoints and run locks (``checkpoint``) and
data-parallel helpers (``distributed``). Builds on ``adversarial`` and ``mi``."""
