"""Layer 4, the experiments of the two papers: Table 1 (``table1``), the Section 6.1 model zoo
(``zoo``), spectral regularization (``spectral_regularization``), spectral regularization against
worst-case MI (``spectral_vs_mi``) and the MI staircase (``mi_staircase``). Every setting they
read per profile is in ``settings``."""
