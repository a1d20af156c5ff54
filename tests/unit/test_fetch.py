"""The downloader against a local HTTP server on 127.0.0.1 serving files the test creates."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tsadbench.fetch import ChecksumError, download, extract


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_verifies_and_resumes(http, tmp_path):
    files, url, log = http
    data = bytes(range(256)) * 1000
    files["a.bin"] = data
    dest = tmp_path / "sub" / "a.bin"
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.bin.part").write_bytes(data[:1000])  # an interrupted earlier try
    download(url + "a.bin", dest, sha(data), progress=False)
    assert dest.read_bytes() == data and not (tmp_path / "sub" / "a.bin.part").exists()
    assert log[-1] == "/a.bin bytes=1000-"  # resumed, not restarted
    download(url + "a.bin", dest, sha(data), progress=False)  # present and verified: no request
    assert len(log) == 1


def test_a_checksum_mismatch_is_refused_and_leaves_nothing(http, tmp_path):
    files, url, _ = http
    files["b.bin"] = b"not what you expect"
    with pytest.raises(ChecksumError, match="expected 0000"):
        download(url + "b.bin", tmp_path / "b.bin", "0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_upstream_file_is_named(http, tmp_path):
    _, url, _ = http
    with pytest.raises(OSError, match=r"Could not download .*nope\.bin: HTTP 404"):
        download(url + "nope.bin", tmp_path / "nope.bin", progress=False)


def test_extract_refuses_members_escaping_the_target(tmp_path):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("d/x.txt", "x")
    assert [p.name for p in extract(good, tmp_path / "out")] == ["x.txt"]
    evil_zip = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil_zip, "w") as zf:
        zf.writestr("../escape.txt", "x")
    with pytest.raises(ValueError, match="would land outside"):
        extract(evil_zip, tmp_path / "out2")
    assert not (tmp_path / "escape.txt").exists()
    evil_tar = tmp_path / "evil.tar"
    with tarfile.open(evil_tar, "w") as tf:
        link = tarfile.TarInfo("link")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
    with pytest.raises(ValueError, match="Refusing to extract the link"):
        extract(evil_tar, tmp_path / "out3")
    ok_tar = tmp_path / "ok.tar"
    with tarfile.open(ok_tar, "w") as tf:
        info = tarfile.TarInfo("f/y.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"y"))
    extract(ok_tar, tmp_path / "out4")
    assert (tmp_path / "out4" / "f" / "y.txt").read_text() == "y"


def test_data_download_and_verify_nab(http, tmp_path, monkeypatch):
    from tsadbench.cli import app
    from tsadbench.data import sources

    files, url, _ = http
    body = b"timestamp,value\n2020-01-01 00:00:00,1\n"
    monkeypatch.setattr(
        sources,
        "shipped_checksums",
        lambda: {"NAB/data/fam/s.csv": sha(body), "NAB/labels/w.json": sha(b"{}")},
    )
    files["data/fam/s.csv"] = body
    files["labels/w.json"] = b"{}"
    runner = CliRunner()
    result = runner.invoke(
        app, ["data", "download", "nab", "--data-root", str(tmp_path), "--base-url", url]
    )
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "NAB" / "data" / "fam" / "s.csv").read_bytes() == body
    ok = runner.invoke(app, ["data", "verify", "nab", "--data-root", str(tmp_path)])
    assert ok.exit_code == 0 and "2 ok, 0 MISMATCH" in ok.stdout
    (tmp_path / "NAB" / "labels" / "w.json").write_text("{tampered}")
    bad = runner.invoke(app, ["data", "verify", "nab", "--data-root", str(tmp_path)])
    assert bad.exit_code == 1 and "MISMATCH" in bad.stdout


def test_unknown_sources_get_their_hash_recorded(http, tmp_path, monkeypatch):
    from tsadbench.cli import app
    from tsadbench.data import sources

    files, url, _ = http
    files["train/m.txt"] = b"1,2\n"
    monkeypatch.setattr(sources, "SOURCES", {"smd": sources.Source("SMD", url, ("train/m.txt",))})
    monkeypatch.setattr(sources, "shipped_checksums", dict)
    result = CliRunner().invoke(app, ["data", "download", "smd", "--data-root", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    assert sources.recorded(tmp_path / "SMD") == {"train/m.txt": sha(b"1,2\n")}
    verify = CliRunner().invoke(app, ["data", "verify", "smd", "--data-root", str(tmp_path)])
    assert "1 unverified" in verify.stdout
    assert Path(tmp_path / "SMD" / "train" / "m.txt").exists()


def _npy(arr) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.asarray(arr))
    return buf.getvalue()


def test_data_download_splits_the_telemanom_archive_by_spacecraft(http, tmp_path, monkeypatch):
    import numpy as np

    from tsadbench.cli import app
    from tsadbench.data import load_dataset, sources

    files, url, _ = http
    a1 = _npy(np.zeros((20, 55)))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for split in ("train", "test"):
            zf.writestr(f"data/{split}/A-1.npy", a1)
            zf.writestr(f"data/{split}/S-1.npy", _npy(np.zeros((20, 25))))
            zf.writestr(f"data/{split}/T-9.npy", _npy(np.zeros((5, 55))))  # unlabelled
    files["data.zip"] = archive.getvalue()
    csv_text = (
        b"chan_id,spacecraft,anomaly_sequences,class,num_values\n"
        b'A-1,MSL,"[[2, 3]]",[point],20\nS-1,SMAP,"[[4, 5]]",[point],20\n'
    )
    files["labeled_anomalies.csv"] = csv_text
    monkeypatch.setattr(
        sources,
        "shipped_checksums",
        lambda: {"MSL/labeled_anomalies.csv": sha(csv_text), "MSL/train/A-1.npy": sha(a1)},
    )
    result = CliRunner().invoke(
        app, ["data", "download", "msl", "--data-root", str(tmp_path), "--base-url", url]
    )
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "MSL" / "train").iterdir()) == ["A-1.npy", "T-9.npy"]
    assert [p.name for p in (tmp_path / "SMAP" / "test").iterdir()] == ["S-1.npy"]
    assert [e.name for e in load_dataset("smap", tmp_path).entities] == ["S-1"]

    monkeypatch.setattr(
        sources,
        "shipped_checksums",
        lambda: {"MSL/labeled_anomalies.csv": sha(csv_text), "MSL/train/A-1.npy": "0" * 64},
    )
    bad = CliRunner().invoke(
        app, ["data", "download", "msl", "--data-root", str(tmp_path / "x"), "--base-url", url]
    )
    assert bad.exit_code == 1 and "checksum" in bad.stderr


def test_data_download_of_an_archive_keeps_its_files_and_records_hashes(http, tmp_path):
    from tsadbench.cli import app
    from tsadbench.data import load_dataset, sources

    files, url, _ = http
    body = b"".join(f"{i}\n".encode() for i in range(12))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("A/B/UCR_Anomaly_FullData/001_UCR_Anomaly_toy_5_8_9.txt", body)
        zf.writestr("A/B/readme.txt", b"not kept")
    files["ucr.zip"] = archive.getvalue()
    result = CliRunner().invoke(
        app,
        ["data", "download", "ucr", "--data-root", str(tmp_path), "--base-url", url + "ucr.zip"],
    )
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in (tmp_path / "UCR").glob("*.txt")] == ["001_UCR_Anomaly_toy_5_8_9.txt"]
    assert sources.recorded(tmp_path / "UCR") == {"001_UCR_Anomaly_toy_5_8_9.txt": sha(body)}
    assert len(load_dataset("ucr", tmp_path).entities[0].test) == 7
    verify = CliRunner().invoke(app, ["data", "verify", "ucr", "--data-root", str(tmp_path)])
    assert verify.exit_code == 0 and "1 unverified" in verify.stdout


def test_a_download_cut_short_is_not_accepted_and_resumes(http, tmp_path):
    files, url, log = http
    body = bytes(range(256)) * 10
    files["w.bin.cut"] = body
    with pytest.raises(OSError, match=r"IncompleteRead|ended after"):
        download(url + "w.bin.cut", tmp_path / "w.bin", progress=False)
    assert not (tmp_path / "w.bin").exists()  # never under the final name
    files["w.bin"] = body  # the mirror is fixed: the next attempt resumes the part file
    assert download(url + "w.bin", tmp_path / "w.bin", progress=False).read_bytes() == body
    assert log[-1] == f"/w.bin bytes={len(body)}-"  # resumed where the cut left off


def test_offline_forbids_the_network(http, tmp_path, monkeypatch):
    files, url, log = http
    files["a.bin"] = b"abc"
    monkeypatch.setenv("TSADBENCH_OFFLINE", "1")
    with pytest.raises(OSError, match="TSADBENCH_OFFLINE=1 forbids the network"):
        download(url + "a.bin", tmp_path / "a.bin", progress=False)
    assert log == []


def test_weights_download_reads_the_declaration_beside_the_detector_and_verifies(
    http, tmp_path, monkeypatch
):
    """``tsadbench weights download`` takes URL, file name and sha256 from the detector's
    registration (``weights=Weights(...)``): no list of its own; a wrong file is refused."""
    import dataclasses

    from tsadbench.cli import app
    from tsadbench.registry import DETECTORS, Weights

    files, url, _ = http
    files["w.pth"] = b"weights of a tiny network"
    entry = DETECTORS.entry("vanad")
    declared = Weights(url=f"{url}w.pth", file="mine.pth", sha256=sha(files["w.pth"]), size="1 kB")
    patched = dataclasses.replace(entry, info=dataclasses.replace(entry.info, weights=declared))
    monkeypatch.setitem(DETECTORS._entries, "vanad", patched)
    monkeypatch.setenv("TSADBENCH_WEIGHTS", str(tmp_path))
    runner = CliRunner()
    ok = runner.invoke(app, ["weights", "download", "vanad"])
    assert ok.exit_code == 0, ok.stderr
    assert (tmp_path / "mine.pth").read_bytes() == files["w.pth"]
    assert sha(files["w.pth"]) in ok.stderr
    files["w.pth"] = b"an html error page"
    bad = runner.invoke(app, ["weights", "download", "vanad", "--dest", str(tmp_path / "x.pth")])
    assert bad.exit_code == 1 and "checksum" in bad.stderr and not (tmp_path / "x.pth").exists()
    none = runner.invoke(app, ["weights", "download", "pca"])
    assert none.exit_code == 1 and "loads no pretrained weights; these do: vanad" in none.stderr


def test_an_error_page_served_for_an_archive_is_named_deleted_and_fetched_again(http, tmp_path):
    """An unverified archive (no checksum) that is an HTML page: named in one line, deleted,
    and the next try downloads it again instead of reusing the bad copy."""
    from tsadbench.cli import app

    files, url, log = http
    files["ucr.zip"] = b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>"
    args = ["data", "download", "ucr", "--data-root", str(tmp_path), "--base-url", url + "ucr.zip"]
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code == 1 and "not a readable archive" in bad.stderr
    assert "an HTML page" in bad.stderr and "ucr" in bad.stderr.lower()
    assert not list((tmp_path / ".downloads").glob("*.zip"))  # deleted: not cached for good
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("UCR_Anomaly_FullData/001_UCR_Anomaly_toy_5_8_9.txt", b"1\n2\n3\n4\n5\n6\n")
    files["ucr.zip"] = archive.getvalue()
    fetched = len(log)
    good = CliRunner().invoke(app, args)
    assert good.exit_code == 0, good.stderr
    assert len(log) > fetched  # fetched again, not the cached error page
