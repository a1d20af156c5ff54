"""VAN-AD's parts: the MAE, the image round trip, the checkerboard masks, ADMM, the MADE masks
and the flow's density; the pretrained-weights path with a tiny random checkpoint."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch

from tsadbench.detectors.vanad import (
    MADE,
    MAE,
    MAF,
    VANAD,
    VANADLite,
    checkerboard,
    from_image,
    sincos_2d,
    to_image,
    window_stats,
)
from tsadbench.runner import RunSettings, run

TINY = {
    "image_size": 16,
    "patch_size": 4,
    "embed_dim": 16,
    "depth": 1,
    "num_heads": 2,
    "decoder_dim": 8,
    "decoder_depth": 1,
    "decoder_heads": 2,
}


def tiny_mae() -> MAE:
    torch.manual_seed(0)
    return MAE(
        TINY["image_size"], TINY["patch_size"], TINY["embed_dim"], TINY["depth"],
        TINY["num_heads"], TINY["decoder_dim"], TINY["decoder_depth"], TINY["decoder_heads"],
    )  # fmt: skip


def test_sincos_position_embedding():
    table = sincos_2d(8, 3)
    assert table.shape == (1 + 9, 8) and not table[0].any()  # a zero row for the cls token
    # patch (row 1, col 2) is row 1 + 1*3 + 2 = 6: columns encode col = 2, then row = 1
    freq = 1.0 / 10000 ** (np.arange(2) / 2)
    expected = np.concatenate(
        [np.sin(2 * freq), np.cos(2 * freq), np.sin(1 * freq), np.cos(1 * freq)]
    )
    np.testing.assert_allclose(table[6], expected, rtol=1e-6)


def test_checkerboard_masks_are_complementary_halves():
    a, b = checkerboard(14).numpy()
    assert a.sum() == b.sum() == 98 and np.array_equal(a + b, np.ones(196))
    grid = a.reshape(14, 14)
    assert grid[0, 0] == 0 and grid[0, 1] == 1  # A removes (i, j) with i + j odd
    # every removed patch has its four neighbours visible
    assert not (grid[:, 1:] * grid[:, :-1]).any() and not (grid[1:] * grid[:-1]).any()


def test_image_has_variables_as_rows_and_round_trips():
    x = torch.tensor([[[0.0, 10.0], [1.0, 20.0], [2.0, 30.0], [3.0, 40.0]]])  # L=4, N=2
    img = to_image(x, 4)
    assert img.shape == (1, 3, 4, 4) and torch.equal(img[:, 0], img[:, 2])
    np.testing.assert_allclose(img[0, 0, 0].numpy(), x[0, :, 0].numpy())  # top row: variable 0
    np.testing.assert_allclose(img[0, 0, -1].numpy(), x[0, :, 1].numpy())  # bottom: variable 1
    # a smooth window survives the trip to 224 x 224 and back
    t = torch.linspace(0, 2 * math.pi, 100)
    smooth = torch.stack([torch.sin(t), torch.cos(t), 0.5 * torch.sin(2 * t)], dim=1)[None]
    back = from_image(to_image(smooth, 224), 3, 100)
    assert back.shape == smooth.shape
    assert torch.max(torch.abs(back - smooth)) < 0.05


def test_window_stats_follow_admm():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 50, 3)).astype(np.float32)
    mu, sigma = window_stats(torch.from_numpy(x))
    np.testing.assert_allclose(mu.numpy()[:, 0], x.mean(axis=1), rtol=1e-5)
    expected = np.sqrt(x.var(axis=1) + 1e-5) / 0.4  # population variance, / 0.4
    np.testing.assert_allclose(sigma.numpy()[:, 0], expected, rtol=1e-5)


def test_mae_patchify_and_masking():
    mae = tiny_mae().eval()
    img = torch.randn(2, 3, 16, 16)
    assert torch.equal(mae.unpatchify(mae.patchify(img)), img)
    noise = checkerboard(4)[0].expand(2, -1)
    pred = mae(img, noise, 8)
    assert pred.shape == (2, 16, 4 * 4 * 3)
    # the prediction depends only on the visible patches (noise 0): changing a masked one
    changed = img.clone()
    removed = int(torch.nonzero(noise[0])[0])
    r, c = divmod(removed, 4)
    changed[:, :, r * 4 : r * 4 + 4, c * 4 : c * 4 + 4] += 5.0
    assert torch.allclose(mae(changed, noise, 8), pred, atol=1e-6)


@pytest.mark.parametrize("n", [1, 3, 5])
def test_made_is_autoregressive_by_its_jacobian(n):
    torch.manual_seed(0)
    degrees = torch.arange(n).flip(0)  # a reversed block
    made = MADE(degrees, hidden=8, n_hidden=2, activation=torch.nn.Tanh)
    v = torch.randn(n)
    jac = torch.autograd.functional.jacobian(lambda z: made(z[None])[0][0], v)
    for i in range(n):
        for j in range(n):
            if degrees[j] > degrees[i]:
                assert jac[i, j] == 0, f"u_{i} depends on v_{j} of higher degree"
    _, neg_alpha = made(v[None])
    expected = neg_alpha.exp()[0].detach().numpy()
    np.testing.assert_allclose(torch.diagonal(jac).numpy(), expected, rtol=1e-5)


def _fit_flow(flow: torch.nn.Module, data: torch.Tensor, steps: int = 300) -> torch.nn.Module:
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        (-flow.log_prob(data).mean()).backward()
        optimizer.step()
    return flow


@pytest.mark.parametrize("cls", [VANAD, VANADLite])
def test_the_default_flow_on_univariate_data_is_a_density(cls):
    """N = 1 (NAB, UCR, a NASA channel): the detector's flow at its defaults integrates to one
    and cannot beat the entropy of the data it was fit to (issue 21, item 7)."""
    torch.manual_seed(0)
    flow = _fit_flow(cls()._build_module(1), torch.randn(4096, 1))
    grid = torch.linspace(-12.0, 12.0, 24_001)[:, None]
    with torch.no_grad():
        mass = float(flow.log_prob(grid).exp().sum() * 1e-3)
        nll = float(-flow.log_prob(torch.randn(20_000, 1)).mean())
    assert mass == pytest.approx(1.0, abs=1e-3)
    assert nll > 0.5 * math.log(2 * math.pi * math.e) - 0.03  # 1.419 nats, the entropy


def test_the_official_univariate_flow_is_kept_for_the_paper_cell_and_is_no_density():
    torch.manual_seed(0)
    flow = _fit_flow(MAF(1, 2, 32, 1, univariate="official"), torch.randn(4096, 1))
    with torch.no_grad():
        nll = float(-flow.log_prob(torch.randn(20_000, 1)).mean())
    assert nll < 0.5 * math.log(2 * math.pi * math.e) - 0.03  # below the entropy: no likelihood
    assert VANAD(univariate_flow="official")._build_module(1).blocks[0].mask2.sum() > 0


def test_flow_log_density_matches_brute_force():
    torch.manual_seed(1)
    flow = MAF(n_vars=3, n_blocks=3, hidden=8, n_hidden=1).double()
    for v in torch.randn(4, 3, dtype=torch.float64):

        def transform(z):
            for block in flow.blocks:
                z, _ = block(z[None])
                z = z[0]
            return z

        u = transform(v)
        jac = torch.autograd.functional.jacobian(transform, v)
        base = -0.5 * ((u - flow.base_mean) ** 2).sum() - 1.5 * math.log(2 * math.pi)
        expected = base + torch.linalg.slogdet(jac)[1]
        got = float(flow.log_prob(v[None])[0].detach())
        assert got == pytest.approx(float(expected.detach()), abs=1e-9)


def write_checkpoint(path, mae: MAE | None = None) -> str:
    torch.save({"model": (mae or tiny_mae()).state_dict()}, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vanad(weights_path, **extra) -> VANAD:
    params = {**TINY, "window": 16, "stride": 4, "n_epochs": 1, "random_state": 0, "device": "cpu"}
    return VANAD(weights_path=str(weights_path), **{**params, **extra})


def test_vanad_with_a_checkpoint_runs_and_records_its_hash(tmp_path):
    sha = write_checkpoint(tmp_path / "mae.pth")
    settings = RunSettings(
        detector="vanad",
        detector_params=vanad(tmp_path / "mae.pth").get_params(),
        dataset="synthetic",
        dataset_params={"length": 600, "n_anomalies": 3, "n_channels": 2},
        metrics=["auc_pr"],
        seed=0,
        results_dir=tmp_path / "results",
        data_root=tmp_path,
        isolate=False,
    )
    [record] = run(settings, log=lambda _: None)
    assert record.status == "ok", record.error
    assert record.detector.provenance["weights_sha256"] == sha
    assert record.detector.faithful is True
    assert not any("quirks=false" in d for d in record.detector.deviations)
    settings.detector_params["quirks"] = False  # the clean variant says it is one
    [clean] = run(settings, log=lambda _: None)
    assert clean.status == "ok", clean.error
    assert any("quirks=false" in d for d in clean.detector.deviations)
    assert clean.key != record.key


def test_vanad_scores_are_deterministic_and_cover_every_point(tmp_path):
    write_checkpoint(tmp_path / "mae.pth")
    rng = np.random.default_rng(0)
    train, test = (rng.normal(size=(n, 2)).astype(np.float32) for n in (200, 70))
    a = vanad(tmp_path / "mae.pth").fit(train).score(test)
    b = vanad(tmp_path / "mae.pth").fit(train).score(test)
    assert a.shape == (70,) and np.isfinite(a).all() and np.array_equal(a, b)
    assert np.all(a[64:] == a[63])  # the tail after the last whole window: the policy's ffill


def test_a_checkpoint_that_does_not_fit_is_an_error_never_random_weights(tmp_path):
    other = MAE(16, 4, 32, 1, 2, 8, 1, 2)  # a wider encoder than the detector's
    write_checkpoint(tmp_path / "mae.pth", other)
    det = vanad(tmp_path / "mae.pth")
    with pytest.raises(ValueError, match="does not fit the network"):
        det.fit(np.zeros((100, 2), dtype=np.float32))
    (tmp_path / "bad.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="Could not read the MAE checkpoint"):
        vanad(tmp_path / "bad.pth").fit(np.zeros((100, 2), dtype=np.float32))


def test_without_weights_vanad_says_where_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TSADBENCH_OFFLINE", "1")  # no probe of the real URL from a test
    reason = vanad(tmp_path / "absent.pth").check_available()
    assert "mae_visualize_vit_base.pth" in reason and str(tmp_path / "absent.pth") in reason
    assert "https://dl.fbaipublicfiles.com/mae/visualize/" in reason
    assert "detector=vanad_lite" in reason


def test_first_use_downloads_the_checkpoint_from_its_url(http, tmp_path):
    files, url, _ = http
    write_checkpoint(tmp_path / "served.pth")
    files["mae.pth"] = (tmp_path / "served.pth").read_bytes()
    target = tmp_path / "cache" / "mae.pth"
    det = vanad(target, weights_url=url + "mae.pth")
    assert det.check_available() is None  # reachable: the fit downloads it
    det.fit(np.random.default_rng(0).normal(size=(100, 2)).astype(np.float32))
    assert target.read_bytes() == files["mae.pth"]
    expected = hashlib.sha256(files["mae.pth"]).hexdigest()
    assert det.provenance()["weights_sha256"] == expected


def test_without_weights_offline_vanad_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("TSADBENCH_OFFLINE", "1")
    reason = vanad(tmp_path / "absent.pth").check_available()
    assert "TSADBENCH_OFFLINE=1 forbids the network" in reason
    assert "tsadbench weights download vanad" in reason


def test_weights_download_command(http, tmp_path):
    from typer.testing import CliRunner

    from tsadbench.cli import app

    files, url, _ = http
    files["mae.pth"] = b"weights" * 100
    dest = tmp_path / "w.pth"
    args = ["weights", "download", "vanad", "--url", url + "mae.pth", "--dest", str(dest)]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.stderr
    assert dest.read_bytes() == files["mae.pth"]
    assert hashlib.sha256(files["mae.pth"]).hexdigest() in done.stderr
    missing = CliRunner().invoke(app, ["weights", "download", "nosuch"])
    assert missing.exit_code == 1 and "Unknown detector 'nosuch'" in missing.stderr


def test_the_frozen_stage_is_cached_and_a_corrupt_entry_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("TSADBENCH_CACHE", str(tmp_path / "cache"))
    write_checkpoint(tmp_path / "mae.pth")
    calls = []
    original = MAE.forward

    def counting(self, *args):
        calls.append(1)
        return original(self, *args)

    monkeypatch.setattr(MAE, "forward", counting)
    rng = np.random.default_rng(0)
    train, test = (rng.normal(size=(n, 2)).astype(np.float32) for n in (200, 64))
    first = vanad(tmp_path / "mae.pth").fit(train).score(test)
    assert calls and len(list((tmp_path / "cache").glob("*.npz"))) == 2  # train and test
    calls.clear()
    again = vanad(tmp_path / "mae.pth", n_blocks=3).fit(train).score(test)  # another flow
    assert calls == [] and np.isfinite(again).all()  # the MAE stage was skipped entirely
    for entry in (tmp_path / "cache").glob("*.npz"):
        entry.write_bytes(entry.read_bytes()[:100])  # a partial write
    third = vanad(tmp_path / "mae.pth").fit(train).score(test)
    assert calls and np.array_equal(third, first)  # recomputed, same numbers


def hf_model():
    transformers = pytest.importorskip("transformers")
    config = transformers.ViTMAEConfig(
        image_size=16, patch_size=4, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, decoder_hidden_size=8, decoder_num_hidden_layers=1,
        decoder_num_attention_heads=2, decoder_intermediate_size=32, mask_ratio=0.5,
        layer_norm_eps=1e-6,  # the official MAE's (the hub config says 1e-12)
    )  # fmt: skip
    torch.manual_seed(3)
    return transformers.ViTMAEForPreTraining(config).eval()


def old_hub_names(state):
    """The names of the hub's facebook/vit-mae-base file (transformers < 5)."""
    renames = {
        "attention.q_proj": "attention.attention.query",
        "attention.k_proj": "attention.attention.key",
        "attention.v_proj": "attention.attention.value",
        "attention.o_proj": "attention.output.dense",
        "mlp.fc1": "intermediate.dense",
        "mlp.fc2": "output.dense",
    }
    out = {}
    for key, value in state.items():
        key = key.replace("vit.layers.", "vit.encoder.layer.")
        for new, old in renames.items():
            key = key.replace(f".{new}.", f".{old}.")
        out[key] = value
    return out


@pytest.mark.parametrize("names", ["transformers", "hub"])
def test_the_mae_reproduces_hugging_face_vit_mae_under_the_same_masks(names):
    from tsadbench.detectors.vanad import hf_to_mae

    hf = hf_model()
    state = hf.state_dict()
    if names == "hub":
        state = old_hub_names(state)
    ours = MAE(16, 4, 16, 2, 2, 8, 1, 2).eval()
    ours.load_state_dict(hf_to_mae(state), strict=True)
    img = torch.randn(3, 3, 16, 16)
    for mask in checkerboard(4):
        noise = mask.expand(3, -1).contiguous()
        with torch.no_grad():
            expected = hf(pixel_values=img, noise=noise).logits
            got = ours(img, noise, 8)
        assert torch.allclose(got, expected, atol=1e-4), float((got - expected).abs().max())


def test_vanad_loads_a_safetensors_state_dict_of_vit_mae(tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    hf = hf_model()
    path = tmp_path / "vit-mae.safetensors"
    safetensors.save_file({k: v.contiguous() for k, v in hf.state_dict().items()}, str(path))
    det = vanad(path, embed_dim=16, depth=2, decoder_dim=8)
    det.fit(np.random.default_rng(0).normal(size=(100, 2)).astype(np.float32))
    converted = {k: v for k, v in det.mae_.state_dict().items()}
    from tsadbench.detectors.vanad import hf_to_mae

    for key, value in hf_to_mae(hf.state_dict()).items():
        assert torch.equal(converted[key], value)


def test_an_unknown_hugging_face_key_is_an_error():
    from tsadbench.detectors.vanad import hf_to_mae

    with pytest.raises(KeyError, match="has no counterpart"):
        hf_to_mae({"vit.pooler.dense.weight": torch.zeros(2, 2)})


@pytest.mark.slow
def test_a_full_size_checkpoint_is_downloaded_loaded_and_run(http, tmp_path):
    """The real network's shape end to end: a randomly initialised ViT-B/16 + 8 × 512 MAE
    (about 450 MB) served from 127.0.0.1, fetched on first use, loaded strictly, run."""
    files, url, _ = http
    torch.manual_seed(0)
    write_checkpoint(tmp_path / "served.pth", MAE())
    files["mae_visualize_vit_base.pth"] = (tmp_path / "served.pth").read_bytes()
    (tmp_path / "served.pth").unlink()
    det = VANAD(
        window=32,
        stride=16,
        n_epochs=1,
        batch_size=8,
        weights_path=str(tmp_path / "cache" / "mae_visualize_vit_base.pth"),
        weights_url=url + "mae_visualize_vit_base.pth",
        random_state=0,
        device="cpu",
    )
    assert det.check_available() is None
    rng = np.random.default_rng(0)
    det.fit(rng.normal(size=(96, 3)).astype(np.float32))
    scores = det.score(rng.normal(size=(64, 3)).astype(np.float32))
    assert scores.shape == (64,) and np.isfinite(scores).all()
    assert (
        det.provenance()["weights_sha256"]
        == hashlib.sha256(files["mae_visualize_vit_base.pth"]).hexdigest()
    )


def test_bf16_precision_is_close_to_fp32_and_cached_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("TSADBENCH_CACHE", str(tmp_path / "cache"))
    write_checkpoint(tmp_path / "mae.pth")
    train = np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32)
    full = vanad(tmp_path / "mae.pth")
    full.fit(train)
    half = vanad(tmp_path / "mae.pth", precision="bf16")
    half.fit(train)
    windows = sliding_windows_view(train)
    a, b = full._reconstruct(windows), half._reconstruct(windows)
    assert not np.array_equal(a, b)  # bf16 arithmetic really ran, and has its own cache entry
    assert np.max(np.abs(a - b)) < 0.05 * np.max(np.abs(a))
    with pytest.raises(ValueError, match="'fp32' or 'bf16'"):
        vanad(tmp_path / "mae.pth", precision="fp16").check_params()


def sliding_windows_view(x):
    from tsadbench.data.windows import sliding_windows

    return np.ascontiguousarray(sliding_windows(x, 16, 4))
