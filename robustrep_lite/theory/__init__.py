"""Layer 1, the paper's mathematics in closed form: Theorems 3.2 and 3.4 (``theorems``) and
Section 2's quantities on finite measures (``measures``). numpy and scipy only: no torch, no
estimator, no optimiser."""
