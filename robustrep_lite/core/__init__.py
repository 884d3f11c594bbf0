"""Layer 0, used by every other layer: argument checks (``validation``), device, seeding and
provenance (``runtime``), stored JSON results (``results``) and the numbers the papers print
(``paper_numbers``). Imports nothing of the package."""
