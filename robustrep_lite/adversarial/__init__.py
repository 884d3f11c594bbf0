"""Layer 2, attacks and what they measure: PGD on any objective (``attacks``), the worst-case
MI search and representation vulnerability of Definition 3.1 / eq. (4.1)
(``vulnerability``), and the adversarial distance of a frozen representation
(``robust_distance``). Builds on ``mi``."""
