"""Layer 5, what the chapters show: chapter set-up and banner (``chapter``), plotly helpers
(``plots``), and the tables, figures and sentences generated from stored results
(``mi_report``, ``zoo_report``, ``table1_report``). Nothing here defines a computation; it
presents results, loading stored or checkpointed ones and running the experiments only where a
chapter needs a live run (``table1_report.table1_results``)."""
