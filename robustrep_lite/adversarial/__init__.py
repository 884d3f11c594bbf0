"""Layer 2, attacks and what they measure: PGD on any objective over l_inf / l_2 balls inside
the input box (``attacks``); the worst-case search of eqs. (4.2)-(4.3) (``search``:
:class:`~robustrep_lite.adversarial.search.AttackConfig`, the search set and how PGD searches
it, per point or with one universal perturbation, and the attacked batches the one
critic-fitting loop trains on); the worst-case MI estimate and representation vulnerability of
Definition 3.1 / eq. (4.1) built on that search (``vulnerability``: ``normal_mi``,
``worst_case_mi`` with its two read-outs, ``representation_vulnerability``); the same for every
feature of a layer at once, one critic and one adversary per feature (``per_feature``, the
paper's Figure 3); and the adversarial distance of a frozen representation (``robust_distance``).
Builds on ``mi``."""
