from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from tsadbench import store
from tsadbench.record import FORMAT, DatasetRef, DetectorRef, RunRecord, Scores
from tsadbench.report.reproductions import RECORDS


def test_key_is_stable_and_sensitive():
    spec = {"detector": {"name": "iforest", "params": {"window": 8}}, "seed": 0}
    assert store.run_key(spec) == store.run_key(json.loads(json.dumps(spec)))
    assert store.run_key(spec) != store.run_key({**spec, "seed": 1})
    assert len(store.run_key(spec)) == 16


def test_npz_bytes_are_deterministic_and_load_back():
    arrays = {"test": np.linspace(0, 1, 50), "labels": np.arange(50, dtype=np.int8) % 2}
    a, b = store.npz_bytes(arrays), store.npz_bytes(dict(reversed(list(arrays.items()))))
    assert a == b
    with np.load(io.BytesIO(a), allow_pickle=False) as back:
        np.testing.assert_array_equal(back["test"], arrays["test"])
        assert back["labels"].dtype == np.int8


def _record(key: str, status: str = "ok", **fields) -> RunRecord:
    return RunRecord(
        key=key,
        status=status,  # type: ignore[arg-type]
        detector=DetectorRef("pca", {"window": 8}),
        dataset=DatasetRef("synthetic", {}, "series-0"),
        seed=0,
        started="2026-12-05T00:00:00+0000",
        **fields,
    )


def test_write_read_roundtrip_keeps_nan_and_leaves_no_temp(tmp_path):
    record = _record("k1", "error", metrics={"auc_pr": math.nan})
    scores = Scores(test=np.arange(3.0), labels=np.array([0, 1, 0], dtype=np.int8))
    folder = store.write(tmp_path, record, scores)
    assert sorted(p.name for p in folder.iterdir()) == ["record.json", "scores.npz"]
    back = store.read(tmp_path, "k1")
    assert back is not None and math.isnan(back.metrics["auc_pr"])
    assert back == record or math.isnan(back.metrics["auc_pr"])  # NaN != NaN
    assert back.format == FORMAT and back.detector == record.detector
    stored = store.read_scores(tmp_path, "k1")
    np.testing.assert_array_equal(stored.test, [0.0, 1.0, 2.0])
    assert stored.train is None and stored.labels.dtype == np.int8
    assert store.read(tmp_path, "missing") is None
    assert [r.key for r in store.iter_records(tmp_path)] == ["k1"]


def test_a_failed_write_keeps_the_earlier_record(tmp_path, monkeypatch):
    store.write(tmp_path, _record("k", metrics={"auc_pr": 0.5}))

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store.write(tmp_path, _record("k", metrics={"auc_pr": 0.9}))
    monkeypatch.undo()
    assert store.read(tmp_path, "k").metrics["auc_pr"] == 0.5
    assert [p.name for p in (tmp_path / "k").iterdir()] == ["record.json"]


def test_a_full_disk_leaves_the_old_record_and_scores_whole_and_a_new_run_no_folder(
    tmp_path, monkeypatch
):
    import errno

    def scores(v: float) -> Scores:
        return Scores(test=np.full(3, v), labels=np.array([0, 1, 0], dtype=np.int8))

    store.write(tmp_path, _record("k", metrics={"auc_pr": 0.5}), scores(0.5))
    before = {p.name: p.read_bytes() for p in (tmp_path / "k").iterdir()}
    real = store._staged
    calls = []

    def full_after_the_scores(path, data):  # the scores fit, then the disk is full
        calls.append(path.name)
        if path.name == store.RECORD:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(store, "_staged", full_after_the_scores)
    for key in ("k", "new"):
        with pytest.raises(store.WriteError, match=rf"/{key}: No space left on device\. Nothing"):
            store.write(tmp_path, _record(key, metrics={"auc_pr": 0.9}), scores(0.9))
    assert calls == ["scores.npz", "record.json"] * 2
    # the earlier run: its record and scores as they were (not new scores beside an old record)
    assert {p.name: p.read_bytes() for p in (tmp_path / "k").iterdir()} == before
    assert not (tmp_path / "new").exists()  # a new run: no folder of scores without a record


def test_bad_status_is_refused():
    with pytest.raises(ValueError, match="status must be one of"):
        _record("k", "done")


def test_records_of_format_1_are_migrated():
    """The untyped records written before the schema (the reproductions' records among them)
    load: same fields, no code identity, the job-level skip's version moved into its
    environment."""
    folders = store.record_folders(RECORDS)
    assert len(folders) > 50
    for folder in folders:
        raw = json.loads((folder / store.RECORD).read_text())
        assert "format" not in raw  # written by the pre-schema code
        record = store.read(folder.parent, folder.name)
        assert record.format == FORMAT and record.code is None
        assert record.metrics.keys() == raw["metrics"].keys()
        assert record.detector.name == raw["detector"]["name"]
    skip = {
        "key": "s",
        "status": "skipped",
        "detector": {"name": "vanad", "params": {}},
        "dataset": {"name": "msl", "params": {}, "entity": "*"},
        "seed": 0,
        "tsadbench": "0.1.0",
        "error": "no weights",
        "metrics": {"vus_pr": math.nan},
        "environment": {"versions": {}},
        "started": "2026-12-01T00:00:00+0000",
    }
    record = RunRecord.from_dict(skip)
    assert record.environment["versions"]["tsadbench"] == "0.1.0"
    assert record.dataset.entity == "*" and record.status == "skipped"


def test_a_newer_or_unknown_record_is_refused_with_its_name(tmp_path):
    store.write(tmp_path, _record("k"))
    path = tmp_path / "k" / store.RECORD
    raw = json.loads(path.read_text())
    path.write_text(json.dumps({**raw, "format": FORMAT + 1}))
    with pytest.raises(ValueError, match=rf"{path}.*format {FORMAT + 1}.*newer tsadbench"):
        store.read(tmp_path, "k")
    path.write_text(json.dumps({**raw, "colour": "blue"}))
    with pytest.raises(ValueError, match=r"record\.json has field\(s\) 'colour'"):
        store.read(tmp_path, "k")
    path.write_text(json.dumps({k: v for k, v in raw.items() if k != "seed"}))
    with pytest.raises(ValueError, match=r"lacks the field\(s\) 'seed'"):
        store.read(tmp_path, "k")


def test_scores_need_test_and_labels():
    with pytest.raises(ValueError, match=r"must hold the arrays test and labels.*lacks labels"):
        Scores.from_arrays({"test": np.zeros(3)})
    with pytest.raises(ValueError, match="unknown colour"):
        Scores.from_arrays({"test": np.zeros(3), "labels": np.zeros(3), "colour": np.zeros(3)})


def test_a_record_archive_names_the_line_it_cannot_read(tmp_path):
    import gzip

    bad = tmp_path / "records.jsonl.gz"
    bad.write_bytes(gzip.compress(b'{"status": "ok"}\nnot json\n'))
    with pytest.raises(ValueError, match=r"Record 1 of .*records.jsonl.gz"):
        store.read_archive(bad)  # the first line is an object, but not a record
    bad.write_bytes(gzip.compress(b"[1, 2]\n"))
    with pytest.raises(ValueError, match=r"Record 1 of .* must be a JSON object"):
        store.read_archive(bad)
    with pytest.raises(ValueError, match="No record archive"):
        store.read_archive(tmp_path / "missing.jsonl.gz")
