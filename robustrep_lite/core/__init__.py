"""Layer 0, used by every other layer: argument checks (``validation``), device, seeding and
provenance (``runtime``), and stored JSON results (``results``). Imports nothing of the
package."""
