"""Layer 4, the experiments of the two papers, each with its settings per profile: Table 1
(``table1``), the Section 6.1 model zoo (``zoo``), spectral regularization
(``spectral_regularization``), spectral regularization against worst-case MI
(``spectral_vs_mi``) and the MI staircase (``mi_staircase``). The profiles are in
``profiles``."""
