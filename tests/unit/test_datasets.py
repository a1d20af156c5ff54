"""Real benchmark loaders: on the shared data when TSADBENCH_DATA points at it (CI sets it),
and on generated files of the same layouts everywhere."""

from __future__ import annotations

import json
import os
import pickle
import re
import time
from pathlib import Path

import numpy as np
import pytest

from tsadbench.data import load_dataset
from tsadbench.data.files import load_array_pickle

DATA = Path(os.environ.get("TSADBENCH_DATA", "")) if os.environ.get("TSADBENCH_DATA") else None
needs_data = pytest.mark.skipif(
    DATA is None or not (DATA / "MSL").is_dir(),
    reason="needs the real benchmark data: set TSADBENCH_DATA to the shared data folder",
)


@needs_data
@pytest.mark.parametrize(
    ("name", "train", "test", "anomalies", "channels"),
    [
        ("msl_concat", 58_317, 73_729, 7_766, 55),  # OmniAnomaly's MSL, data README
        ("smap_concat", 135_183, 427_617, 54_696, 25),  # P-2 dropped
    ],
)
def test_concatenated_nasa_sets_have_the_papers_sizes(name, train, test, anomalies, channels):
    [e] = load_dataset(name, DATA).entities
    assert e.train.shape == (train, channels) and e.test.shape == (test, channels)
    assert int(e.labels.sum()) == anomalies


@needs_data
def test_per_channel_nasa_sets():
    msl = load_dataset("msl", DATA)
    assert len(msl.entities) == 27 and "T-10" not in [e.name for e in msl.entities]
    smap = load_dataset("smap", DATA)
    assert len(smap.entities) == 54
    assert sum(len(e.test) for e in smap.entities) == 435_826
    assert sum(int(e.labels.sum()) for e in smap.entities) == 55_972  # P-2: union of its rows
    one = load_dataset("msl", DATA, entities=["C-1"], channels=[0])
    assert [e.name for e in one.entities] == ["C-1"] and one.entities[0].train.shape[1] == 1
    assert one.entities[0].meta["channels"] == ["telemetry"]


@needs_data
def test_smd_machines_present():
    start = time.perf_counter()
    smd = load_dataset("smd", DATA)
    seconds = time.perf_counter() - start
    assert len(smd.entities) == 23 and smd.meta == {"present": 23, "total": 28}
    assert sum(len(e.train) for e in smd.entities) == 565_044
    assert sum(len(e.test) for e in smd.entities) == 565_059
    assert sum(int(e.labels.sum()) for e in smd.entities) == 24_521
    assert seconds < 10
    m = load_dataset("smd", DATA, entities=["machine-1-2"]).entities[0]
    assert m.train.dtype == np.float32 and m.train.shape[1] == 38
    start_, end_, dims = m.meta["interpretation"][0]
    assert 0 <= start_ < end_ and all(0 <= d < 38 for d in dims)
    with pytest.raises(ValueError, match="no machine 'machine-9-9'"):
        load_dataset("smd", DATA, entities=["machine-9-9"])


def write_smd(root: Path, machine: str, n: int = 50, text: bool = False) -> np.ndarray:
    rng = np.random.default_rng(0)
    train, test = rng.uniform(size=(n, 38)), rng.uniform(size=(n, 38))
    for split, arr in (("train", train), ("test", test)):
        if text:
            (root / "SMD" / split).mkdir(parents=True, exist_ok=True)
            np.savetxt(root / "SMD" / split / f"{machine}.txt", arr, fmt="%.6f", delimiter=",")
        else:
            (root / "SMD" / "processed").mkdir(parents=True, exist_ok=True)
            with open(root / "SMD" / "processed" / f"{machine}_{split}.pkl", "wb") as fh:
                pickle.dump(arr.astype(np.float32), fh, protocol=4)
    (root / "SMD" / "test_label").mkdir(parents=True, exist_ok=True)
    labels = np.zeros(n, dtype=int)
    labels[10:15] = 1
    np.savetxt(root / "SMD" / "test_label" / f"{machine}.txt", labels, fmt="%d")
    return test


def test_smd_text_and_pickle_layouts(tmp_path):
    test = write_smd(tmp_path, "machine-1-1", text=True)
    write_smd(tmp_path, "machine-1-2")
    ds = load_dataset("smd", tmp_path)
    assert [e.name for e in ds.entities] == ["machine-1-1", "machine-1-2"]
    np.testing.assert_allclose(ds.entities[0].test, test, atol=1e-6)
    assert ds.entities[0].labels.sum() == 5
    [concat] = load_dataset("smd_concat", tmp_path).entities
    assert len(concat.test) == 100 and concat.meta["partial"] is True
    # where each machine's train begins, for a validation split that leaves none out
    half = len(ds.entities[0].train)
    assert concat.meta["train_segments"] == [0, half]
    [cut] = load_dataset("smd_concat", tmp_path, train_slice=[5, None]).entities
    assert cut.meta["train_segments"] == [0, half - 5]


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_pickle_holding_anything_but_an_array_is_refused(tmp_path):
    write_smd(tmp_path, "machine-1-1")
    with open(tmp_path / "SMD" / "processed" / "machine-1-1_train.pkl", "wb") as fh:
        pickle.dump(Evil(), fh)
    with pytest.raises(
        ValueError,
        match=r"machine-1-1_train.pkl holds something other than a "
        r"numpy array .*posix.system|system",
    ):
        load_dataset("smd", tmp_path)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_arrays_pickled_with_any_protocol_are_read(tmp_path, protocol):
    test = write_smd(tmp_path, "machine-1-1")
    for split in ("train", "test"):
        path = tmp_path / "SMD" / "processed" / f"machine-1-1_{split}.pkl"
        arr = load_array_pickle(path)
        path.write_bytes(pickle.dumps(arr, protocol=protocol))
    np.testing.assert_array_equal(
        load_dataset("smd", tmp_path).entities[0].test, test.astype(np.float32)
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "it is empty"),
        (b"not a pickle at all", "damaged or not a pickle"),
        (pickle.dumps(np.zeros((5, 38)))[:60], "damaged or not a pickle"),
        (pickle.dumps(np.zeros((5, 38), dtype=complex)), "real-valued.*complex128"),
        (pickle.dumps([1.0, 2.0]), "real-valued numpy array; it holds list"),
    ],
    ids=["empty", "garbage", "truncated", "complex", "list"],
)
def test_damaged_pickles_are_named(tmp_path, content, reason):
    write_smd(tmp_path, "machine-1-1")
    (tmp_path / "SMD" / "processed" / "machine-1-1_train.pkl").write_bytes(content)
    with pytest.raises(ValueError, match=rf"machine-1-1_train\.pkl .*{reason}"):
        load_dataset("smd", tmp_path)


def test_files_not_named_like_a_machine_are_not_machines(tmp_path):
    write_smd(tmp_path, "machine-1-1")
    write_smd(tmp_path, "machine-a-b")
    write_smd(tmp_path, "machine-1-1 copy", text=True)
    assert [e.name for e in load_dataset("smd", tmp_path).entities] == ["machine-1-1"]


def test_missing_files_and_bad_labels_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"SMD is missing.*tsadbench data download smd"):
        load_dataset("smd", tmp_path)
    write_smd(tmp_path, "machine-1-1")
    np.savetxt(tmp_path / "SMD" / "test_label" / "machine-1-1.txt", np.zeros(7), fmt="%d")
    with pytest.raises(ValueError, match="have 7 lines but the test values of machine-1-1 have 50"):
        load_dataset("smd", tmp_path)
    (tmp_path / "SMD" / "test_label" / "machine-1-1.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"test_label/machine-1-1\.txt is missing"):
        load_dataset("smd", tmp_path)


def test_nasa_layout_and_channel_selection(tmp_path):
    root = tmp_path / "MSL"
    for split in ("train", "test"):
        (root / split).mkdir(parents=True)
    rng = np.random.default_rng(1)
    for chan in ("B-1", "A-1"):
        np.save(root / "train" / f"{chan}.npy", rng.normal(size=(40, 3)))
        np.save(root / "test" / f"{chan}.npy", rng.normal(size=(30, 3)))
    (root / "labeled_anomalies.csv").write_text(
        "chan_id,spacecraft,anomaly_sequences,class,num_values\n"
        'B-1,MSL,"[[2, 4]]",[point],30\n'
        'A-1,MSL,"[[0, 0], [29, 29]]","[point, point]",30\n'
        'X-1,SMAP,"[[1, 2]]",[point],30\n'
    )
    ds = load_dataset("msl", tmp_path)
    assert [e.name for e in ds.entities] == ["B-1", "A-1"]
    assert ds.entities[0].labels[2:5].tolist() == [1, 1, 1]  # both ends inclusive
    [concat] = load_dataset("msl_concat", tmp_path, channels=["telemetry", 2]).entities
    assert concat.meta["source_channels"] == ["A-1", "B-1"]  # sorted by channel id
    assert concat.meta["train_segments"] == [0, 40]  # where B-1's train begins
    assert concat.train.shape == (80, 2) and concat.meta["channels"] == ["telemetry", "command_2"]
    assert concat.labels[[0, 29, 32, 33, 34]].tolist() == [1, 1, 1, 1, 1]
    with pytest.raises(ValueError, match="no channel 'pressure'"):
        load_dataset("msl", tmp_path, channels=["pressure"])
    bad = root / "train" / "A-1.npy"
    for content, reason in [
        (b"", "damaged or not a .npy file \\(it is empty"),
        (b"\x93NUMPY garbage", "damaged or not a .npy file"),
    ]:
        bad.write_bytes(content)
        with pytest.raises(ValueError, match=rf"A-1\.npy is {reason}"):
            load_dataset("msl", tmp_path)
    np.save(bad, np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"A-1\.npy holds pickled Python objects; refusing"):
        load_dataset("msl", tmp_path)
    np.save(bad, np.zeros(40))
    with pytest.raises(ValueError, match=r"msl train values of A-1 must be 2-D.*\(40,\)"):
        load_dataset("msl", tmp_path)


@needs_data
@pytest.mark.parametrize(
    "dataset",
    [
        "dataset=smd dataset.entities=[machine-1-2]",
        "dataset=msl dataset.entities=[C-1] dataset.channels=[0]",
        "dataset=nab dataset.entities=[realKnownCause/nyc_taxi]",
    ],
)
def test_runs_on_real_data_write_records(tmp_path, dataset):
    from typer.testing import CliRunner

    from tsadbench.cli import app

    args = [
        "run",
        "detector=iforest",
        "detector.n_estimators=20",
        *dataset.split(),
        f"results_dir={tmp_path}",
        f"data_root={DATA}",
        "metrics.names=[auc_pr,vus_pr]",
    ]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    [record] = [p for p in tmp_path.glob("*/record.json")]
    text = record.read_text()
    assert '"status": "ok"' in text and '"vus_pr"' in text


@needs_data
def test_nab_matches_the_data_readme():
    ds = load_dataset("nab", DATA)
    assert len(ds.entities) == 58
    assert sum(len(e.train) + len(e.test) for e in ds.entities) == 365_558
    assert sum(e.meta["anomalies_whole_series"] for e in ds.entities) == 33_495  # 9.16 %
    taxi = load_dataset("nab", DATA, entities=["realKnownCause/nyc_taxi"]).entities[0]
    assert len(taxi.train) == 750  # NAB's probationary period: min(15 %, 750)
    whole = load_dataset("nab", DATA, families=["realKnownCause"], split="none")
    assert all(len(e.train) == len(e.test) for e in whole.entities)


def test_nab_layout_windows_and_probationary_split(tmp_path):
    (tmp_path / "NAB" / "data" / "fam").mkdir(parents=True)
    (tmp_path / "NAB" / "labels").mkdir(parents=True)
    stamps = [f"2020-01-01 00:{m:02d}:00" for m in range(40)]
    rows = "".join(f"{t},{i}\n" for i, t in enumerate(stamps))
    (tmp_path / "NAB" / "data" / "fam" / "s.csv").write_text("timestamp,value\n" + rows)
    windows = {
        "fam/s.csv": [
            ["2020-01-01 00:02:00.000000", "2020-01-01 00:03:00.000000"],
            ["2020-01-01 00:30:00.000000", "2020-01-01 00:33:00.000000"],
        ]
    }
    (tmp_path / "NAB" / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    [e] = load_dataset("nab", tmp_path).entities
    assert len(e.train) == 6 and len(e.test) == 34  # floor(0.15 * 40)
    assert e.meta["anomalies_in_train"] == 2  # minutes 2 and 3, reported, not hidden
    assert e.labels.sum() == 4 and e.labels[30 - 6 : 34 - 6].all()  # both ends inclusive
    with pytest.raises(ValueError, match="no family 'nope'"):
        load_dataset("nab", tmp_path, families=["nope"])


def test_nab_interval_aggregation_means_values_and_keeps_any_label(tmp_path):
    (tmp_path / "NAB" / "data" / "fam").mkdir(parents=True)
    (tmp_path / "NAB" / "labels").mkdir(parents=True)
    minutes = [0, 1, 2, 3, 4, 5, 12, 13]  # minutes 6-11 missing: interval 6-8 and 9-11 empty
    rows = "".join(f"2020-01-01 00:{m:02d}:00,{m}\n" for m in minutes)
    (tmp_path / "NAB" / "data" / "fam" / "s.csv").write_text("timestamp,value\n" + rows)
    windows = {"fam/s.csv": [["2020-01-01 00:05:00", "2020-01-01 00:05:00"]]}
    (tmp_path / "NAB" / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    [e] = load_dataset("nab", tmp_path, split="none", interval=180).entities
    # intervals of 3 minutes from minute 0: [0,3) [3,6) [6,9) [9,12) [12,15)
    fill = np.mean([1.0, 4.0, 12.5])  # empty intervals take the mean of the others
    np.testing.assert_allclose(e.test[:, 0], [1.0, 4.0, fill, fill, 12.5], rtol=1e-6)
    assert e.labels.tolist() == [0, 1, 0, 0, 0]  # minute 5 lies in [3, 6)
    # a window across the gap (minutes 5 to 12) stays one event: the empty intervals in it too
    windows = {"fam/s.csv": [["2020-01-01 00:05:00", "2020-01-01 00:12:00"]]}
    (tmp_path / "NAB" / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    [e] = load_dataset("nab", tmp_path, split="none", interval=180).entities
    assert e.labels.tolist() == [0, 1, 1, 1, 1]
    assert e.meta["empty_intervals_filled"] == 2 and e.meta["interval_s"] == 180
    with pytest.raises(ValueError, match="'interval' parameter of the nab dataset"):
        load_dataset("nab", tmp_path, interval=0)


def test_psm_layout_and_nan_policies(tmp_path):
    root = tmp_path / "PSM"
    root.mkdir()
    header = "timestamp_(min)," + ",".join(f"feature_{i}" for i in range(3))
    train_rows = ["0.0,1,2,3", "1.0,,2,3", "2.0,4,,6"]  # two NaNs
    (root / "train.csv").write_text("\n".join([header, *train_rows]) + "\n")
    (root / "test.csv").write_text(f"{header}\n3.0,1,2,3\n4.0,1,2,3\n")
    (root / "test_label.csv").write_text("timestamp_(min),label\n3.0,0\n4.0,1\n")
    [e] = load_dataset("psm", tmp_path).entities
    assert e.train.tolist() == [[1, 2, 3], [1, 2, 3], [4, 2, 6]]  # carried forward
    assert e.meta["nans_filled"] == 2 and e.labels.tolist() == [0, 1]
    assert load_dataset("psm", tmp_path, nan="zero").entities[0].train[1, 0] == 0
    with pytest.raises(ValueError, match="holds 2 NaN value"):
        load_dataset("psm", tmp_path, nan="error")
    (root / "test.csv").write_text(f"{header}\n3.0,1,oops,3\n4.0,1,2,3\n")
    with pytest.raises(ValueError, match=r"test.csv line 2: column 'feature_1' holds 'oops'"):
        load_dataset("psm", tmp_path)
    (root / "test.csv").write_text(f"{header}\n3.0,1,2,3\n")
    with pytest.raises(ValueError, match=r"has 2 labels but .*test\.csv has 1 rows"):
        load_dataset("psm", tmp_path)


def test_tsbad_and_ucr_file_names_carry_the_split(tmp_path):
    (tmp_path / "TSB-AD-U").mkdir()
    rows = "".join(f"{i * 0.1},{int(i in (7, 8))}\n" for i in range(10))
    (tmp_path / "TSB-AD-U" / "001_NAB_id_1_Facility_tr_4_1st_7.csv").write_text(
        "Data,Label\n" + rows
    )
    [e] = load_dataset("tsbad", tmp_path).entities
    assert len(e.train) == 4 and len(e.test) == 10 and e.labels.sum() == 2  # TSB-AD: whole series
    (tmp_path / "UCR").mkdir()
    np.savetxt(tmp_path / "UCR" / "001_UCR_Anomaly_toy_5_8_9.txt", np.arange(12.0))
    [u] = load_dataset("ucr", tmp_path).entities
    assert len(u.train) == 5 and len(u.test) == 7
    assert np.flatnonzero(u.labels).tolist() == [2, 3]  # points 8 and 9, 1-based
    (tmp_path / "UCR" / "002_UCR_Anomaly_bad_5_30_31.txt").write_text("1\n2\n")
    with pytest.raises(ValueError, match="do not fit 2 points"):
        load_dataset("ucr", tmp_path)


def test_any_csv(tmp_path):
    rows = "".join(f"2020-01-{i + 1:02d},{i},{-i},{int(i == 8)}\n" for i in range(10))
    (tmp_path / "mine.csv").write_text("when,a,b,is_anomaly\n" + rows)
    [e] = load_dataset(
        "csv",
        tmp_path,
        path="mine.csv",
        label_column="is_anomaly",
        timestamp_column="when",
        train=6,
        channels=["b"],
    ).entities
    assert e.train.shape == (6, 1) and e.test[:, 0].tolist() == [-6, -7, -8, -9]
    assert e.labels.tolist() == [0, 0, 1, 0] and e.meta["channels"] == ["b"]
    with pytest.raises(ValueError, match="no label column 'label'; its columns: when, a, b, is"):
        load_dataset("csv", tmp_path, path="mine.csv", label_column="label")
    with pytest.raises(FileNotFoundError, match=r"dataset.path=nope\.csv: no such file here"):
        load_dataset("csv", tmp_path, path="nope.csv")


@pytest.mark.parametrize(
    ("cell", "shown"),
    [("inf", "inf"), ("-inf", "-inf"), ("1e39", "1e+39"), ("-3.5e38", "-3.5e+38")],
)
def test_csv_values_beyond_float32_are_named_by_file_and_line(tmp_path, cell, shown):
    rows = [f"{i},{i % 3},{int(i == 8)}" for i in range(10)]
    rows[4] = f"4,{cell},0"
    (tmp_path / "x.csv").write_text("a,b,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(
        ValueError, match=rf"x\.csv line 6: column 'b' holds {re.escape(shown)}, infinite or beyond"
    ):
        load_dataset("csv", tmp_path, path="x.csv")


def test_csv_paths_that_are_folders_empty_or_lack_the_columns_are_named(tmp_path):
    rows = "".join(f"{i},{-i},{int(i == 8)}\n" for i in range(10))
    (tmp_path / "mine.csv").write_text("a,b,label\n" + rows)
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match=r"the folder .*folder holds no \.csv file"):
        load_dataset("csv", tmp_path, path=str(tmp_path / "folder"))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match=r"Cannot read the csv file .*empty\.csv"):
        load_dataset("csv", tmp_path, path="empty.csv")
    (tmp_path / "other.csv").write_text("x,y\n1,2\n3,4\n")
    with pytest.raises(ValueError, match=r"other\.csv lacks the feature column\(s\) 'a', 'b'"):
        load_dataset("csv", tmp_path, path="mine.csv", train_path="other.csv")
    with pytest.raises(FileNotFoundError, match=r"dataset.train_path=gone\.csv: no such file"):
        load_dataset("csv", tmp_path, path="mine.csv", train_path="gone.csv")
    # a user's own file: no `tsadbench data download csv` (there is none) is suggested
    with pytest.raises(FileNotFoundError) as missing:
        load_dataset("csv", tmp_path, path=str(tmp_path / "gone.csv"))
    assert "download" not in str(missing.value)
    [e] = load_dataset("csv", tmp_path, path="mine.csv", train_path="mine.csv").entities
    assert e.train.shape == (10, 2) and e.test.shape == (10, 2)


@needs_data
def test_data_info_reproduces_the_readme_figures():
    from typer.testing import CliRunner

    from tsadbench.cli import app

    def total(name):
        result = CliRunner().invoke(app, ["data", "info", name, "--json", "--data-root", str(DATA)])
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)["total"]

    assert total("smd")["anomalies"] == 24_521 and total("smd")["test"] == 565_059
    msl = total("msl")
    assert (msl["train"], msl["test"], msl["anomalies"]) == (58_317, 73_729, 7_766)
    assert round(100 * total("smap_concat")["anomaly_ratio"], 2) == 12.79
    nab = total("nab")
    assert round(100 * nab["whole_series_ratio"], 2) == 9.16  # the README's ratio
    assert nab["train"] + nab["test"] == 365_558


def test_entities_carry_their_sources_and_channel_labels(tmp_path):
    write_smd(tmp_path, "machine-1-1")
    (tmp_path / "SMD" / "interpretation_label").mkdir()
    (tmp_path / "SMD" / "interpretation_label" / "machine-1-1.txt").write_text("10-15:1,3\n")
    [e] = load_dataset("smd", tmp_path).entities
    assert set(e.meta["sources"]) == {
        "processed/machine-1-1_train.pkl",
        "processed/machine-1-1_test.pkl",
        "test_label/machine-1-1.txt",
        "interpretation_label/machine-1-1.txt",
    }
    assert all(len(v) == 64 for v in e.meta["sources"].values())
    # 1-based channels 1 and 3, rows [10, 15): what root-cause metrics will read
    assert e.channel_labels is not None and e.channel_labels.sum() == 10
    assert e.channel_labels[10:15, [0, 2]].all()
    [kept] = load_dataset("smd", tmp_path, channels=[2]).entities
    assert kept.channel_labels.shape == (50, 1) and kept.channel_labels.sum() == 5


def test_data_info_reports_filled_nans(tmp_path):
    from typer.testing import CliRunner

    from tsadbench.cli import app

    root = tmp_path / "PSM"
    root.mkdir()
    header = "timestamp_(min),feature_0,feature_1"
    (root / "train.csv").write_text(f"{header}\n0.0,1,\n1.0,2,3\n")
    (root / "test.csv").write_text(f"{header}\n2.0,1,2\n")
    (root / "test_label.csv").write_text("timestamp_(min),label\n2.0,1\n")
    result = CliRunner().invoke(
        app, ["data", "info", "psm", "--json", "--data-root", str(tmp_path)]
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["entities"][0]["nans_filled"] == 1


def test_every_dataset_takes_the_common_settings(tmp_path):
    # synthetic has no entities, channels or nan parameter: they are applied after loading
    from tsadbench.data import COMMON_SETTINGS

    assert set(COMMON_SETTINGS) >= {"entities", "channels", "nan", "train_slice"}
    ds = load_dataset("synthetic", n_entities=3, length=400, n_anomalies=2)
    some = load_dataset(
        "synthetic", n_entities=3, length=400, n_anomalies=2,
        entities=["series_2", "series_0"], channels=[3, "1"], nan="error",
    )  # fmt: skip
    assert [e.name for e in some.entities] == ["series_2", "series_0"]
    np.testing.assert_array_equal(some.entities[1].test, ds.entities[0].test[:, [3, 1]])
    assert some.entities[1].meta["channels"] == ["3", "1"]
    one = load_dataset("synthetic", n_entities=3, length=400, n_anomalies=2, entities="series_1")
    assert [e.name for e in one.entities] == ["series_1"]  # one name alone: a list of one
    with pytest.raises(ValueError, match="synthetic dataset has no entity 'series_9'"):
        load_dataset("synthetic", length=400, n_anomalies=2, entities=["series_9"])
    with pytest.raises(ValueError, match="'nan' parameter must be one of"):
        load_dataset("synthetic", length=400, n_anomalies=2, nan="drop")


def test_timeeval_and_tsbad_layouts_are_recognised(tmp_path):
    rows = "".join(f"2021-01-01 00:00:{i:02d},{i},{-i},{int(i == 8)}\n" for i in range(10))
    (tmp_path / "timeeval.csv").write_text("timestamp,value-0,value-1,is_anomaly\n" + rows)
    [e] = load_dataset("csv", tmp_path, path="timeeval.csv", train=6).entities
    assert e.meta["channels"] == ["value-0", "value-1"] and e.labels.tolist() == [0, 0, 1, 0]
    assert e.meta["label_column"] == "is_anomaly" and e.meta["timestamp_column"] == "timestamp"
    rows = "".join(f"{i},{-i},{int(i == 8)}\n" for i in range(10))
    (tmp_path / "tsbad.csv").write_text("Data_0,Data_1,Label\n" + rows)
    [e] = load_dataset("csv", tmp_path, path="tsbad.csv", train=6).entities
    assert e.meta["channels"] == ["Data_0", "Data_1"] and e.meta["label_column"] == "Label"
    # no recognisable label, or a time column under another name: the fix is said
    (tmp_path / "odd.csv").write_text("a,b,flag\n1,2,0\n3,4,1\n")
    with pytest.raises(ValueError, match=r"no label column among a, b, flag.*label_column=<the"):
        load_dataset("csv", tmp_path, path="odd.csv")
    (tmp_path / "when.csv").write_text(
        "when,v,label\n" + "".join(f"2021-01-0{i + 1},{i},0\n" for i in range(5))
    )
    with pytest.raises(
        ValueError, match=r"If 'when' is the time, set dataset\.timestamp_column=when"
    ):
        load_dataset("csv", tmp_path, path="when.csv")


def test_a_folder_of_csv_files_is_one_dataset_with_an_entity_each(tmp_path):
    for name, bad in (("b", 2), ("a", None)):  # b has a labelled anomaly in its train rows
        rows = "".join(f"{i},{int(i in (bad, 8))}\n" for i in range(10))
        (tmp_path / "mine" / "train").mkdir(parents=True, exist_ok=True)
        (tmp_path / "mine" / f"{name}.csv").write_text("value,label\n" + rows)
        (tmp_path / "mine" / "train" / f"{name}.csv").write_text("value\n1\n2\n3\n")
    ds = load_dataset("csv", tmp_path, path="mine", train=5)
    assert [e.name for e in ds.entities] == ["a", "b"]  # name order
    assert [e.meta["anomalies_in_train"] for e in ds.entities] == [0, 1]
    split = load_dataset("csv", tmp_path, path="mine", train_path="mine/train")
    assert [len(e.train) for e in split.entities] == [3, 3]
    assert [len(e.test) for e in split.entities] == [10, 10]
    with pytest.raises(ValueError, match=r"train_path=mine/train/a\.csv must be a folder"):
        load_dataset("csv", tmp_path, path="mine", train_path="mine/train/a.csv")
