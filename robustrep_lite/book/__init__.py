"""Layer 5, what the chapters show: chapter set-up and banner (``chapter``), plotly helpers
(``plots``), and the tables, figures and sentences generated from stored results and closed
forms (``ceiling_figures``, ``mi_figures``, ``mi_report``, ``zoo_report``). Nothing here computes
a result; it presents one."""
