"""Reading stored results from the checkout, and the errors when a file is missing."""

from __future__ import annotations

import json

import pytest

from robustrep_lite.core import results


def test_reads_a_file_of_the_checkout(tmp_path, monkeypatch) -> None:
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "r.json").write_text(json.dumps({"value": 1.5}))
    monkeypatch.setattr(results, "CHECKOUT", tmp_path)
    assert results.load_stored("bench/r.json") == {"value": 1.5}


def test_missing_file_names_both_places(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(results, "CHECKOUT", tmp_path)
    monkeypatch.setattr(results, "RAW_URL", "http://127.0.0.1:9/")  # nothing listens there
    with pytest.raises(FileNotFoundError, match=r"neither in .* nor downloadable from"):
        results.load_stored("bench/none.json", timeout=2)


@pytest.mark.parametrize("path", ["/etc/passwd", "../x.json"])
def test_paths_must_stay_inside_the_repository(path: str) -> None:
    with pytest.raises(ValueError, match="path"):
        results.load_stored(path)
