from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from tsadbench import store


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


def test_write_read_roundtrip_keeps_nan_and_leaves_no_temp(tmp_path):
    record = {"key": "k1", "status": "error", "metrics": {"auc_pr": math.nan}, "time": {}}
    folder = store.write(tmp_path, record, {"test": np.arange(3.0)})
    assert sorted(p.name for p in folder.iterdir()) == ["record.json", "scores.npz"]
    back = store.read(tmp_path, "k1")
    assert back is not None and math.isnan(back["metrics"]["auc_pr"])
    np.testing.assert_array_equal(store.read_scores(tmp_path, "k1")["test"], [0.0, 1.0, 2.0])
    assert store.read(tmp_path, "missing") is None
    assert [r["key"] for r in store.iter_records(tmp_path)] == ["k1"]


def test_a_failed_write_keeps_the_earlier_record(tmp_path, monkeypatch):
    store.write(tmp_path, {"key": "k", "status": "ok", "metrics": {"auc_pr": 0.5}})

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store.write(tmp_path, {"key": "k", "status": "ok", "metrics": {"auc_pr": 0.9}})
    monkeypatch.undo()
    assert store.read(tmp_path, "k")["metrics"]["auc_pr"] == 0.5
    assert [p.name for p in (tmp_path / "k").iterdir()] == ["record.json"]


def test_bad_status_is_refused(tmp_path):
    with pytest.raises(ValueError, match="status must be one of"):
        store.write(tmp_path, {"key": "k", "status": "done"})
