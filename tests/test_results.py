"""Reading stored results from the checkout, and the errors when a file is missing."""

from __future__ import annotations

import json
import re
from pathlib import Path

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


def test_cached_values_are_reused_only_at_the_same_clean_commit_and_settings(
    tmp_path, monkeypatch
) -> None:
    path = tmp_path / "run" / "cell.json"
    settings = {"epochs": 3, "sizes": (1, 2), "eps": 0.3}
    monkeypatch.setattr(results, "git_commit", lambda: "abc1234")
    results.save_cached(path, [{"natural": 0.5}], settings=settings)
    stored = json.loads(path.read_text())
    assert stored["git_commit"] == "abc1234" and stored["settings"]["sizes"] == [1, 2]
    # the same commit and settings (a tuple reads back as the list JSON stores)
    assert results.load_cached(path, settings=settings) == [{"natural": 0.5}]
    # other settings, another commit, uncommitted changes, no commit known: computed again
    assert results.load_cached(path, settings={**settings, "epochs": 4}) is None
    for commit in ("def5678", "abc1234+modified", None):
        monkeypatch.setattr(results, "git_commit", lambda commit=commit: commit)
        assert results.load_cached(path, settings=settings) is None
    # a file written with uncommitted changes is never reused, even by the same state
    monkeypatch.setattr(results, "git_commit", lambda: "abc1234+modified")
    results.save_cached(path, [1], settings=settings)
    assert results.load_cached(path, settings=settings) is None
    # overwriting at a new commit makes the file current again
    monkeypatch.setattr(results, "git_commit", lambda: "def5678")
    results.save_cached(path, [2], settings=settings)
    assert results.load_cached(path, settings=settings) == [2]
    assert not list(path.parent.glob("*.tmp"))


def test_missing_foreign_or_old_format_cache_files_are_computed_again(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(results, "git_commit", lambda: "abc1234")
    path = tmp_path / "cell.json"
    assert results.load_cached(path, settings={}) is None
    path.write_text(json.dumps([{"natural": 0.5}]))  # the rows alone, as before the stamp
    assert results.load_cached(path, settings={}) is None
    path.write_text("{not json")
    assert results.load_cached(path, settings={}) is None


def test_a_run_config_stores_no_machine_folders(tmp_path) -> None:
    import argparse
    from pathlib import Path

    inside = results.CHECKOUT / "bench" / "results" / "x.json"
    args = argparse.Namespace(out=inside, merge=[tmp_path / "a.json", Path("b/c.json")], steps=3)
    assert results.run_config(args) == {
        "out": "bench/results/x.json",
        "merge": ["a.json", "b/c.json"],
        "steps": 3,
    }


# An absolute folder of a machine (Linux, macOS, Colab, a temporary folder), as a stored result
# or a notebook output would print it; the data location is printed relative to $ROBUSTREP_DATA.
MACHINE_PATH = re.compile(r"(?<![\w.:/])/(?:work|home|root|tmp|Users|content|mnt|var)/[\w.-]+")


def _stored_texts() -> dict[str, str]:
    root = results.CHECKOUT
    texts = {str(p.relative_to(root)): p.read_text() for p in root.glob("bench/results/**/*.json")}
    for notebook in sorted((root / "book").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        outputs = [o for c in cells for o in c.get("outputs", [])]
        texts[str(notebook.relative_to(root))] = json.dumps(outputs)
    return texts


def test_stored_results_and_outputs_hold_no_machine_paths() -> None:
    texts = _stored_texts()
    assert len(texts) > 20
    found = {name: MACHINE_PATH.findall(text) for name, text in texts.items()}
    assert {name: paths for name, paths in found.items() if paths} == {}
    assert MACHINE_PATH.findall('{"data": "npz file /work/shared/data/mnist.npz"}')  # can fail


def test_a_truncated_stored_result_names_the_file(tmp_path, monkeypatch) -> None:
    (tmp_path / "bench").mkdir()
    text = json.dumps({"rows": [1, 2, 3]})
    (tmp_path / "bench" / "r.json").write_text(text[: len(text) // 2])  # as a kill leaves it
    monkeypatch.setattr(results, "CHECKOUT", tmp_path)
    with pytest.raises(ValueError, match=r"bench/r\.json is not valid JSON.*delete it or regen"):
        results.load_stored("bench/r.json")
    with pytest.raises(ValueError, match=r"r\.json is not valid JSON"):
        results.read_json(tmp_path / "bench" / "r.json")


def test_the_cli_names_a_truncated_encoder_record(tmp_path) -> None:
    from robustrep_lite import cli

    (tmp_path / "encoder.json").write_text('{"dataset": "mnist", "config": {')
    with pytest.raises(ValueError, match=r"encoder\.json is not valid JSON.*delete it"):
        cli.main(["train-head", "--encoder", str(tmp_path)])


def test_writes_are_atomic_and_leave_no_temporary_file(tmp_path, monkeypatch) -> None:
    target = tmp_path / "sub" / "r.json"
    results.write_atomic(target, "old")
    calls = []

    def failing_replace(src, dst):
        calls.append((src, dst))
        raise OSError("disk full")

    monkeypatch.setattr(results.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        results.write_atomic(target, "new")
    assert calls and target.read_text() == "old"  # the old file is untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["r.json"]


def test_save_result_stamps_a_record_without_provenance(tmp_path) -> None:
    path = results.save_result({"rows": [1.0]}, tmp_path / "a.json")
    stamped = json.loads(path.read_text())
    assert stamped["rows"] == [1.0]
    assert set(stamped["provenance"]) >= {"git_commit", "time_utc", "torch", "python"}
    own = {"rows": [], "provenance": {"profile": "cpu", "git_commit": "abc1234"}}
    path = results.save_result(own, tmp_path / "b.json")
    assert json.loads(path.read_text())["provenance"] == own["provenance"]  # kept as given


def _commits(record: dict) -> list[str | None]:
    """The commit(s) a stored record names: its provenance's, and for a record of runs
    (bench/train_step.py, one run per device, each kept from the run that made it) each run's
    too, since the file's provenance names only its last writer."""
    runs = [run.get("git_commit") for run in record.get("runs", [])]
    return [record.get("provenance", {}).get("git_commit"), *runs]


def test_every_stored_result_names_the_clean_commit_that_produced_it() -> None:
    root = Path(__file__).resolve().parents[1] / "bench" / "results"
    found = {
        str(p.relative_to(root)): _commits(json.loads(p.read_text()))
        for p in sorted(root.rglob("*.json"))
        if not p.name.endswith(".partial.json")
    }
    assert len(found) > 20
    missing = {name for name, commits in found.items() if None in commits}
    assert missing == set()
    dirty = {name: c for name, c in found.items() if any("modified" in str(x) for x in c)}
    assert dirty == {}


def test_stored_if_present_reads_only_what_this_checkout_holds(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(results, "CHECKOUT", tmp_path)
    assert results.stored_if_present("bench/results/device/zoo_gpu.json") is None  # no download
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "r.json").write_text('{"rows": [1]}')
    assert results.stored_if_present("bench/r.json") == {"rows": [1]}


def _part(commit: str, time: str) -> dict:
    return {"rows": [], "provenance": {"git_commit": commit, "torch": "2.14.1", "time_utc": time}}


def test_merged_provenance_keeps_what_the_parts_share_and_each_part_s_own() -> None:
    merged = results.merged_provenance(
        [("/tmp/a.json", _part("abc1234", "10:00")), ("b.json", _part("abc1234", "11:00"))]
    )
    assert merged == {
        "git_commit": "abc1234",
        "torch": "2.14.1",
        "parts": [{"file": "a.json", "time_utc": "10:00"}, {"file": "b.json", "time_utc": "11:00"}],
    }


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (_part("def5678", "11:00"), r"different commits \(abc1234, def5678\)"),
        (_part("abc1234+modified", "11:00"), r"b\.json has no clean commit.*'abc1234\+modified'"),
        (_part("unknown", "11:00"), r"b\.json has no clean commit"),
        ({"rows": []}, r"b\.json has no clean commit.*None"),
    ],
)
def test_merged_provenance_refuses_parts_of_other_or_unknown_code(second, message) -> None:
    with pytest.raises(ValueError, match=message):
        results.merged_provenance([("a.json", _part("abc1234", "10:00")), ("b.json", second)])
    with pytest.raises(ValueError, match="parts must name at least one run"):
        results.merged_provenance([])
