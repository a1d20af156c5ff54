"""USAD against a transcription of its official training loop, and its score."""

from __future__ import annotations

import numpy as np
import torch

from tsadbench.data.windows import sliding_windows
from tsadbench.detectors.usad import USAD, USADNet


def _official_loop(x: np.ndarray, window: int, hidden: int, epochs: int, batch: int, seed: int):
    """The official code's training, step by step: per batch, loss1 backward, step and zero
    the first optimiser; recompute, loss2 backward, step and zero the second."""
    torch.manual_seed(seed)
    windows = sliding_windows(x, window, 1)
    w = window * x.shape[1]
    model = USADNet(w, window * hidden)
    data = torch.from_numpy(np.ascontiguousarray(windows).reshape(len(windows), w))
    opt1 = torch.optim.Adam(list(model.encoder.parameters()) + list(model.decoder1.parameters()))
    opt2 = torch.optim.Adam(list(model.encoder.parameters()) + list(model.decoder2.parameters()))

    def losses(b: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        z = model.encoder(b)
        w1, w2 = model.decoder1(z), model.decoder2(z)
        w3 = model.decoder2(model.encoder(w1))
        loss1 = 1 / n * torch.mean((b - w1) ** 2) + (1 - 1 / n) * torch.mean((b - w3) ** 2)
        loss2 = 1 / n * torch.mean((b - w2) ** 2) - (1 - 1 / n) * torch.mean((b - w3) ** 2)
        return loss1, loss2

    for epoch in range(epochs):
        for lo in range(0, len(data), batch):
            b = data[lo : lo + batch]
            loss1, _ = losses(b, epoch + 1)
            loss1.backward()
            opt1.step()
            opt1.zero_grad()
            _, loss2 = losses(b, epoch + 1)
            loss2.backward()
            opt2.step()
            opt2.zero_grad()
    return model


def test_usad_trains_as_the_official_loop_and_scores_its_two_errors():
    x = np.random.default_rng(0).uniform(size=(150, 3)).astype(np.float32)
    det = USAD(window=5, hidden=4, n_epochs=3, batch_size=32, random_state=7, device="cpu")
    det.fit(x)
    ref = _official_loop(x, 5, 4, 3, 32, det.seed_)
    ours_state, ref_state = det.module_.state_dict(), ref.state_dict()
    for (name, ours), theirs in zip(ours_state.items(), ref_state.values(), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-7, msg=name)
    # the score of a window: 0.5 * mse(W, AE1) + 0.5 * mse(W, AE2(AE1)), spread to its points
    with torch.no_grad():
        b = torch.from_numpy(np.ascontiguousarray(sliding_windows(x, 5, 1)).reshape(-1, 15))
        w1 = ref.decoder1(ref.encoder(b))
        w3 = ref.decoder2(ref.encoder(w1))
        window_scores = 0.5 * ((b - w1) ** 2).mean(1) + 0.5 * ((b - w3) ** 2).mean(1)
    got = det.score(x)
    from tsadbench.data.windows import windows_to_points

    expected = windows_to_points(window_scores.double().numpy(), len(x), 5, 1, how="mean")
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_usad_declares_its_minmax_scaling():
    assert USAD.tags.scaler == "minmax"
