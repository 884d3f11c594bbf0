"""Layer 5, what the chapters show: chapter set-up and banner (``chapter``), plotly helpers
(``plots``), and the tables, figures and sentences generated from results, stored or live, and
from closed forms, one module per subject: ``definition_figures`` (Chapter 1),
``theorem_figures`` (2), ``ceiling_figures`` (3), ``mi_figures`` and ``mi_report`` (4),
``rv_validation``, ``zoo_report`` and ``zoo_figures`` (5), ``table1_report`` (6),
``spectral_report`` (7). Nothing here defines a computation; it presents results, loading
stored or checkpointed ones, and runs an experiment of ``experiments`` only where a chapter
needs a live run: ``table1_report.table1_results`` (Table 1, unless the stored paper-scale run
is shown), ``spectral_report.mnist_rows`` and ``spectral_report.vs_mi_rows`` (the MNIST
comparison and spectral regularization beside worst-case MI, unless a stored run of the same
profile and settings exists), and ``table1_report.grid_widget`` (a grid cell the stored grid
lacks, trained when asked)."""
