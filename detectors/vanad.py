"""``vanad`` and ``vanad_lite``: VAN-AD (Chen et al., 2026), a frozen visual masked autoencoder
plus a normalizing flow, after the official code (``PenyChen/VAN-AD``; detectors.md §1).

Pipeline, per window ``x`` (window × N, already z-scored on train):

1. **Image** (§1.3): variables as rows, time as columns, resized bilinearly (no antialias) to the
   MAE's image size, copied into 3 channels, no ImageNet normalisation. With ``quirks=True``
   (the official code) the image is built from the raw window; ``quirks=False`` builds it from
   the window normalised by its own statistics, as VisionTS does.
2. **Reconstruction** (§1.4): the frozen MAE reconstructs the image twice, with complementary
   checkerboard masks; each pass keeps the patches it masked; the two halves are summed,
   averaged to grey and resized back: ``y`` (window × N).
3. **ADMM** (§1.5): ``ŷ = y · σ_w + μ_w`` with the input window's mean ``μ_w`` and standard
   deviation ``σ_w`` divided by 0.4 (no parameters).
4. **NFM** (§1.6): a masked autoregressive flow of MADE blocks (reversed order in every other
   block, tanh, a fixed random base mean) models each time step as an N-dimensional sample. It
   is trained on ``y`` (``quirks=True``; on ``ŷ`` with ``quirks=False``) and evaluated on ``x``.
5. **Score** (§1.8): ``λ_rec · mean_c (ŷ − x)² + λ_nf · (−log p(x_t))``, on non-overlapping test
   windows.

Training (§1.7): only the flow learns, by maximum likelihood, 5 epochs, Adam, no shuffling,
gradients clipped by value at 1, the learning rate lr for epochs 1–2 then halved after each
epoch. The reconstruction term carries no gradient (the MAE is frozen, ADMM has no parameters),
so the optimised loss is the flow's alone.

``vanad`` loads the MAE authors' ``mae_visualize_vit_base.pth`` (ViT-B/16 encoder, 8 × 512
decoder) strictly: a checkpoint that does not load is an error, never random weights (the
official code's bare ``except`` hides that). ``vanad_lite`` needs no weights: a small MAE is
pre-trained from scratch, with random masking, on the images of the training windows, then
frozen; it drops the ImageNet prior that is the paper's central claim, and says so.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import zipfile
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn

from tsadbench.checks import is_number
from tsadbench.data.windows import sliding_windows, windows_to_points
from tsadbench.detectors.base import TorchDetector, draw_seed, halve_lr
from tsadbench.registry import Weights, register_detector

MAE_FILE = "mae_visualize_vit_base.pth"
MAE_URL = "https://dl.fbaipublicfiles.com/mae/visualize/" + MAE_FILE
NORM_CONST = 0.4  # VisionTS's and VAN-AD's σ_w divisor


CACHE_FORMAT = 1  # bump when the frozen stage's computation changes: old entries are not reused


def frozen_cache_dir() -> Path:
    """Where the frozen MAE's reconstructions are cached: ``$TSADBENCH_CACHE``, else
    ``~/.cache/tsadbench/frozen``."""
    from tsadbench.fetch import cache_dir

    env = os.environ.get("TSADBENCH_CACHE")
    return Path(env) if env else cache_dir() / "frozen"


# the masked autoencoder ---------------------------------------------------------------------
def sincos_2d(dim: int, grid: int) -> NDArray[np.float32]:
    """The MAE's fixed 2-D sine-cosine position embedding, with a zero row for the cls token:
    half the features encode the column, half the row, each as sin and cos of the position over
    geometrically spaced frequencies."""
    if dim % 4:
        raise ValueError(f"The MAE's embedding width must be a multiple of 4. Got {dim}.")
    freq = 1.0 / 10000 ** (np.arange(dim // 4, dtype=np.float64) / (dim / 4))
    cols, rows = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64))

    def embed(pos: NDArray[np.float64]) -> NDArray[np.float64]:
        angles = np.outer(pos.reshape(-1), freq)
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    table = np.concatenate([embed(cols), embed(rows)], axis=1)
    return np.concatenate([np.zeros((1, dim)), table]).astype(np.float32)


class MAE(nn.Module):
    """The masked autoencoder of He et al. (2022) with the module names of its official code, so
    that its checkpoints load strictly: a ViT encoder (cls token, fixed sin-cos positions) over
    the visible patches, and a narrower transformer decoder that predicts every patch's pixels.
    Built from timm's ``PatchEmbed`` and ``Block``. Defaults: ViT-B/16 with the 8 × 512
    decoder on 224 × 224 images."""

    def __init__(
        self,
        img_size: int = 224,
        patch_size: int = 16,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        decoder_dim: int = 512,
        decoder_depth: int = 8,
        decoder_heads: int = 16,
        mlp_ratio: float = 4.0,
    ) -> None:
        from functools import partial

        from timm.layers.patch_embed import PatchEmbed
        from timm.models.vision_transformer import Block

        super().__init__()
        if img_size % patch_size:
            raise ValueError(
                f"The MAE's image size ({img_size}) must be a multiple of its patch size "
                f"({patch_size})."
            )
        # a partial, as timm's own ViT builds it (timm annotates norm_layer as a class)
        norm: Any = partial(nn.LayerNorm, eps=1e-6)
        self.patch_size = patch_size
        self.grid = img_size // patch_size
        n = self.grid**2
        self.patch_embed = PatchEmbed(img_size, patch_size, 3, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        pos = torch.from_numpy(sincos_2d(embed_dim, self.grid)).unsqueeze(0)
        self.pos_embed = nn.Parameter(pos, requires_grad=False)
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias=True, norm_layer=norm)
            for _ in range(depth)
        )
        self.norm = norm(embed_dim)
        self.decoder_embed = nn.Linear(embed_dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        dec_pos = torch.from_numpy(sincos_2d(decoder_dim, self.grid)).unsqueeze(0)
        self.decoder_pos_embed = nn.Parameter(dec_pos, requires_grad=False)
        self.decoder_blocks = nn.ModuleList(
            Block(decoder_dim, decoder_heads, mlp_ratio, qkv_bias=True, norm_layer=norm)
            for _ in range(decoder_depth)
        )
        self.decoder_norm = norm(decoder_dim)
        self.decoder_pred = nn.Linear(decoder_dim, patch_size**2 * 3)
        assert n == self.patch_embed.num_patches
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, p·p·3) patch pixels -> (B, 3, H, W) images."""
        p, g = self.patch_size, self.grid
        x = x.reshape(x.shape[0], g, g, p, p, 3)
        return torch.einsum("nhwpqc->nchpwq", x).reshape(x.shape[0], 3, g * p, g * p)

    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images -> (B, L, p·p·3), the inverse of ``unpatchify``."""
        p, g = self.patch_size, self.grid
        x = imgs.reshape(imgs.shape[0], 3, g, p, g, p)
        return torch.einsum("nchpwq->nhwpqc", x).reshape(imgs.shape[0], g * g, p * p * 3)

    def forward(self, imgs: torch.Tensor, noise: torch.Tensor, n_keep: int) -> torch.Tensor:
        """Predict every patch's pixels, (B, L, p·p·3), seeing only the ``n_keep`` patches with
        the lowest ``noise`` (B, L), as the official ``random_masking`` does with given noise."""
        x = self.patch_embed(imgs) + self.pos_embed[:, 1:, :]
        b, n, d = x.shape
        shuffle = torch.argsort(noise, dim=1, stable=True)
        restore = torch.argsort(shuffle, dim=1, stable=True)
        keep = shuffle[:, :n_keep]
        x = torch.gather(x, 1, keep.unsqueeze(-1).expand(-1, -1, d))
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(b, -1, -1)
        x = torch.cat([cls, x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        x = self.decoder_embed(self.norm(x))
        masked = self.mask_token.expand(b, n - n_keep, -1)
        tokens = torch.cat([x[:, 1:, :], masked], dim=1)
        tokens = torch.gather(tokens, 1, restore.unsqueeze(-1).expand(-1, -1, x.shape[2]))
        x = torch.cat([x[:, :1, :], tokens], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        out: torch.Tensor = self.decoder_pred(self.decoder_norm(x))[:, 1:, :]
        return out


# facebook/vit-mae-base (Hugging Face ViTMAEForPreTraining) -> the official MAE's names. Both the
# hub checkpoint's names and those of transformers >= 5 are accepted.
_HF_LAYER = {
    "attention.attention.query": "q",
    "attention.q_proj": "q",
    "attention.attention.key": "k",
    "attention.k_proj": "k",
    "attention.attention.value": "v",
    "attention.v_proj": "v",
    "attention.output.dense": "attn.proj",
    "attention.o_proj": "attn.proj",
    "intermediate.dense": "mlp.fc1",
    "mlp.fc1": "mlp.fc1",
    "output.dense": "mlp.fc2",
    "mlp.fc2": "mlp.fc2",
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
}
_HF_TOP = {
    "vit.embeddings.cls_token": "cls_token",
    "vit.embeddings.position_embeddings": "pos_embed",
    "vit.embeddings.patch_embeddings.projection": "patch_embed.proj",
    "vit.layernorm": "norm",
    "decoder.mask_token": "mask_token",
    "decoder.decoder_pos_embed": "decoder_pos_embed",
    "decoder.decoder_embed": "decoder_embed",
    "decoder.decoder_norm": "decoder_norm",
    "decoder.decoder_pred": "decoder_pred",
}


_HF_LAYER_KEY = (
    r"^(vit\.encoder\.layer|vit\.layers|decoder\.decoder_layers)\.(\d+)\.(.+)\.(weight|bias)$"
)


def hf_to_mae(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Convert a Hugging Face ``ViTMAEForPreTraining`` state dict (``facebook/vit-mae-base``)
    to the official MAE's names: per layer, query, key and value are stacked into timm's
    ``qkv``. A key the map does not know is an error (nothing is silently dropped)."""
    import re

    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        layer = re.match(_HF_LAYER_KEY, key)
        if layer:
            group, idx, inner, kind = layer.groups()
            blocks = "decoder_blocks" if group.startswith("decoder") else "blocks"
            if inner not in _HF_LAYER:
                raise KeyError(f"The Hugging Face MAE key {key!r} has no counterpart.")
            target = _HF_LAYER[inner]
            if target in ("q", "k", "v"):
                qkv.setdefault((f"{blocks}.{idx}.attn.qkv.{kind}", kind), {})[target] = value
            else:
                out[f"{blocks}.{idx}.{target}.{kind}"] = value
            continue
        stem, _, kind = key.rpartition(".")
        if key in _HF_TOP:
            out[_HF_TOP[key]] = value
        elif stem in _HF_TOP and kind in ("weight", "bias"):
            out[f"{_HF_TOP[stem]}.{kind}"] = value
        else:
            raise KeyError(f"The Hugging Face MAE key {key!r} has no counterpart.")
    for (name, _), parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            raise KeyError(f"{name}: the checkpoint lacks {sorted({'q', 'k', 'v'} - set(parts))}.")
        out[name] = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
    return out


def checkerboard(grid: int) -> torch.Tensor:
    """The two complementary masks of §1.4, shape (2, grid²): mask A removes patch (i, j) when
    i + j is odd, mask B when it is even (1 = removed)."""
    i, j = np.indices((grid, grid))
    a = ((i + j) % 2).reshape(-1).astype(np.float32)
    return torch.from_numpy(np.stack([a, 1 - a]))


def to_image(x: torch.Tensor, size: int) -> torch.Tensor:
    """Windows (B, L, N) -> images (B, 3, size, size): variables as rows, bilinear resize
    without antialias, the same values in the 3 channels."""
    img = x.transpose(1, 2).unsqueeze(1)  # (B, 1, N, L)
    img = F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False)
    return img.expand(-1, 3, -1, -1)


def from_image(img: torch.Tensor, n_vars: int, length: int) -> torch.Tensor:
    """Images (B, 3, S, S) -> windows (B, L, N): grey average, bilinear resize back."""
    grey = img.mean(dim=1, keepdim=True)
    back = F.interpolate(grey, size=(n_vars, length), mode="bilinear", align_corners=False)
    return back.squeeze(1).transpose(1, 2)


def window_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per window and variable: the mean μ_w and the ADMM scale σ_w = sqrt(Var + 1e-5) / 0.4
    (population variance over time), shapes (B, 1, N)."""
    mu = x.mean(dim=1, keepdim=True)
    var = ((x - mu) ** 2).mean(dim=1, keepdim=True)
    return mu, torch.sqrt(var + 1e-5) / NORM_CONST


# the normalizing flow -------------------------------------------------------------------------
class MADE(nn.Module):
    """One masked autoregressive layer: ``(m, α) = f(v)`` with output i depending only on
    inputs of lower degree, ``u = (v − m) · exp(−α)``, log |det ∂u/∂v| = −Σα.

    Degrees follow MADE's sequential order: the inputs ``degrees`` (a permutation of 0..N−1),
    hidden unit k has degree k mod (N − 1), output i has degree(input i) − 1.

    With N = 1 there is no lower degree: m and α are constants (their biases), a learned affine
    map of a Gaussian, a proper density. ``univariate="official"`` keeps the official code's
    masks instead, where every degree is 0: m and α then depend on v itself while the log-det
    ignores it, so the "density" is none (on N(0, 1) samples its mean NLL falls far below the
    entropy, 1.42 nats). The official code meets N = 1 only on MSL (§1.6)."""

    def __init__(
        self,
        degrees: torch.Tensor,
        hidden: int,
        n_hidden: int,
        activation: type[nn.Module],
        univariate: str = "density",
    ) -> None:
        super().__init__()
        n = len(degrees)
        if n > 1:
            layers = [degrees] + [torch.arange(hidden) % (n - 1)] * (n_hidden + 1)
            layers.append(degrees - 1)
        else:
            zero = torch.zeros(1, dtype=torch.long)
            layers = [zero] + [torch.zeros(hidden, dtype=torch.long)] * (n_hidden + 1)
            # output degree -1: connected to nothing (density); 0: to v itself (official)
            layers.append(zero if univariate == "official" else zero - 1)
        sizes = [n] + [hidden] * (n_hidden + 1) + [2 * n]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(sizes))
        for i, (d0, d1) in enumerate(pairwise(layers)):
            mask = (d1.unsqueeze(-1) >= d0.unsqueeze(0)).float()
            if i == len(layers) - 2:
                mask = mask.repeat(2, 1)  # the same pattern for m and for α
            self.register_buffer(f"mask{i}", mask)
        self.activation = activation()

    def forward(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = v
        for i, linear in enumerate(self.linears):
            assert isinstance(linear, nn.Linear)
            if i:
                h = self.activation(h)
            h = F.linear(h, linear.weight * getattr(self, f"mask{i}"), linear.bias)
        m, alpha = h.chunk(2, dim=1)
        return (v - m) * torch.exp(-alpha), -alpha


class MAF(nn.Module):
    """A masked autoregressive flow: ``n_blocks`` MADE layers, each after the first with the
    reversed order of the one before, and a unit-variance Gaussian base with mean μ₀
    (``random_base=True``: drawn once from N(0, I) and fixed, as the official code does);
    ``univariate``: the masks for N = 1 (see :class:`MADE`)."""

    base_mean: torch.Tensor  # the base distribution's mean, a buffer

    def __init__(
        self,
        n_vars: int,
        n_blocks: int,
        hidden: int,
        n_hidden: int,
        activation: str = "tanh",
        random_base: bool = True,
        univariate: str = "density",
    ) -> None:
        super().__init__()
        act = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]
        degrees = torch.arange(n_vars)
        blocks = []
        for _ in range(n_blocks):
            blocks.append(MADE(degrees, hidden, n_hidden, act, univariate))
            degrees = degrees.flip(0)
        self.blocks = nn.ModuleList(blocks)
        base = torch.randn(n_vars) if random_base else torch.zeros(n_vars)
        self.register_buffer("base_mean", base)

    def log_prob(self, v: torch.Tensor) -> torch.Tensor:
        """log p(v) of each row of ``v`` (M, N)."""
        logdet = torch.zeros(len(v), dtype=v.dtype, device=v.device)
        for block in self.blocks:
            v, ld = block(v)
            logdet = logdet + ld.sum(dim=1)
        base = -0.5 * ((v - self.base_mean) ** 2).sum(dim=1)
        return base + logdet - v.shape[1] * 0.5 * math.log(2 * math.pi)


# the detector -------------------------------------------------------------------------------
class _VANADBase(TorchDetector):
    """What ``vanad`` and ``vanad_lite`` share: imaging, reconstruction, ADMM, flow, score."""

    shuffle: ClassVar[bool] = False  # the official loader does not shuffle training windows
    clip_grad_value: ClassVar[float | None] = 1.0  # the official clip_grad_value_(..., 1)
    validation_size = 0.0  # no early stopping in the official code: the last epoch is kept
    patience = 0

    window: int
    image_size: int
    patch_size: int
    embed_dim: int
    depth: int
    num_heads: int
    decoder_dim: int
    decoder_depth: int
    decoder_heads: int
    n_blocks: int
    hidden: int
    n_hidden: int
    lambda_rec: float
    lambda_nf: float
    quirks: bool
    univariate_flow: str
    precision: str

    @property
    def score_stride(self) -> int:  # type: ignore[override]
        return self.window  # non-overlapping test windows, as the official code scores

    def check_params(self) -> None:
        super().check_params()
        self._check_int(
            "image_size", "patch_size", "embed_dim", "depth", "num_heads", "decoder_dim",
            "decoder_depth", "decoder_heads", "n_blocks", "hidden", "n_hidden",
        )  # fmt: skip
        c = self._check_param
        grid = self.image_size // self.patch_size
        c(
            "patch_size",
            self.image_size % self.patch_size == 0 and grid % 2 == 0,
            f"a divisor of image_size ({self.image_size}) that leaves an even patch grid "
            "(for the checkerboard masks)",
        )
        for name in ("lambda_rec", "lambda_nf"):
            value = getattr(self, name)
            c(name, is_number(value) and value >= 0, "a float >= 0")
        c("quirks", isinstance(self.quirks, bool), "true or false")
        flows = ("density", "official")
        c("univariate_flow", self.univariate_flow in flows, "'density' or 'official'")
        c("precision", self.precision in ("fp32", "bf16"), "'fp32' or 'bf16'")

    def __getstate__(self) -> dict[str, Any]:
        # device-free pickles, as for the flow (TorchDetector): the frozen MAE too
        state = super().__getstate__()
        if "mae_" in state:
            state["mae_"] = copy.deepcopy(state["mae_"]).cpu()
        return state

    def setting_deviations(self) -> list[str]:
        if self.quirks:
            return []
        return [
            "quirks=false: the image is built from the window normalised by its own statistics "
            "(as VisionTS), the flow is fit on the ADMM-mapped reconstruction, and its base "
            "mean is zero; the official code does none of these."
        ]

    # the frozen MAE stage
    def _new_mae(self) -> MAE:
        return MAE(
            self.image_size,
            self.patch_size,
            self.embed_dim,
            self.depth,
            self.num_heads,
            self.decoder_dim,
            self.decoder_depth,
            self.decoder_heads,
        )

    def _prepare_mae(self, windows: NDArray[np.float32]) -> MAE:
        """The frozen MAE of this variant, given the training windows: loaded from the
        pretrained checkpoint (``vanad``) or pre-trained on the windows (``vanad_lite``)."""
        raise NotImplementedError(f"{type(self).__name__} must say where its MAE comes from.")

    def _images(self, x: torch.Tensor) -> torch.Tensor:
        if not self.quirks:  # the clean variant: normalise each window before imaging
            mu, sigma = window_stats(x)
            x = (x - mu) / sigma
        return to_image(x, self.image_size)

    def _reconstruct(self, windows: NDArray[np.float32]) -> NDArray[np.float32]:
        """The MAE's reconstructions ``y`` of ``windows`` (B, L, N), from the frozen-stage cache
        when it holds them (keyed by the windows' bytes, the imaging settings and the MAE's
        weights), else computed and stored there. A corrupt or partial entry is recomputed."""
        from tsadbench import store

        x = np.ascontiguousarray(windows, dtype=np.float32)
        h = hashlib.sha256(
            f"{CACHE_FORMAT}|{x.shape}|{self.image_size}|{self.patch_size}|".encode()
        )
        h.update(f"{self.quirks}|{self.precision}|{self.mae_hash_}|".encode())
        h.update(x.tobytes())
        path = frozen_cache_dir() / f"{h.hexdigest()}.npz"
        try:
            with np.load(path, allow_pickle=False) as npz:
                y, check = npz["y"], str(npz["sha256"].reshape(-1)[0])
            if y.shape == x.shape and hashlib.sha256(y.tobytes()).hexdigest() == check:
                return np.asarray(y, dtype=np.float32)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # absent, partial or corrupt: compute it again
        y = self._run_mae(x)
        digest = np.array(hashlib.sha256(y.tobytes()).hexdigest())
        store.atomic_write(path, store.npz_bytes({"y": y, "sha256": digest}))
        return y

    @torch.no_grad()
    def _run_mae(self, windows: NDArray[np.float32]) -> NDArray[np.float32]:
        """Two complementary checkerboard passes of the frozen MAE over ``windows``."""
        mae = self.mae_
        masks = checkerboard(mae.grid).to(self.device_)
        out = []
        for lo in range(0, len(windows), self.batch_size):
            x = torch.tensor(np.asarray(windows[lo : lo + self.batch_size]))
            x = x.to(self.device_)
            img = self._images(x)
            total = torch.zeros_like(img)
            for mask in masks:  # each pass keeps only the patches it masked
                noise = mask.expand(len(x), -1)
                with torch.autocast(
                    torch.device(self.device_).type,
                    dtype=torch.bfloat16,
                    enabled=self.precision == "bf16",
                ):
                    pred = mae(img, noise, len(mask) - int(mask.sum())).float()
                total = total + mae.unpatchify(pred * mask.unsqueeze(-1))
            out.append(from_image(total, x.shape[2], x.shape[1]).cpu().numpy())
        return np.concatenate(out).astype(np.float32)

    def _admm(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        mu, sigma = window_stats(x)
        return y * sigma + mu

    def _training_windows(self, windows: NDArray[np.float32]) -> NDArray[np.float32]:
        """The flow trains on the MAE's reconstructions of the training windows: ``y``
        (official), or the ADMM-mapped ``ŷ`` with ``quirks=False``."""
        self.mae_ = self._prepare_mae(windows).to(self.device_).eval()
        for p in self.mae_.parameters():
            p.requires_grad_(False)
        weights = hashlib.sha256()
        for name, tensor in sorted(self.mae_.state_dict().items()):
            weights.update(name.encode())
            weights.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        self.mae_hash_ = weights.hexdigest()  # the MAE's identity in the cache key
        y = self._reconstruct(windows)
        if self.quirks:
            return y
        x = torch.tensor(np.asarray(windows))
        return self._admm(torch.from_numpy(y), x).numpy()

    # the flow and its training
    def _build_module(self, n_channels: int) -> nn.Module:
        return MAF(
            n_channels,
            self.n_blocks,
            self.hidden,
            self.n_hidden,
            random_base=self.quirks,
            univariate=self.univariate_flow,
        )

    def _loss(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        nll = -module.log_prob(batch.reshape(-1, batch.shape[2]))  # type: ignore[operator]
        result: torch.Tensor = self.lambda_nf * nll.mean()
        return result

    def _end_epoch(self, epoch: int, optimizer: torch.optim.Optimizer) -> None:
        halve_lr(optimizer, self.lr, epoch)  # the official schedule

    # scoring
    def _score(self, X: NDArray[np.float32]) -> NDArray[np.float64]:
        windows = sliding_windows(X, self.window, self.window)
        y = torch.from_numpy(self._reconstruct(windows))
        x = torch.tensor(np.asarray(windows))
        y_hat = self._admm(y, x)
        rec = ((y_hat - x) ** 2).mean(dim=2)
        with torch.no_grad():  # the flow is evaluated on the input x (§1.8)
            points = x.reshape(-1, x.shape[2]).to(self.device_)
            nll = -self.module_.log_prob(points).cpu()  # type: ignore[operator]
        score = self.lambda_rec * rec + self.lambda_nf * nll.reshape(rec.shape)
        # the official code drops the tail that fills no whole window (scores and labels);
        # here the tail takes the last covered value, the windows module's policy
        return windows_to_points(score.double().numpy(), len(X), self.window, self.window)


@register_detector(
    "vanad",
    faithful=True,
    deviations=(
        "Test points after the last whole window take the last window's score (the official "
        "code drops them from scores and labels).",
        "Validation-free training on all training windows, as the official code (its early "
        "stopping object is never called); tsadbench adds nothing.",
        "On univariate data the flow is a proper density by default (univariate_flow="
        "'density': m and α constant); the official masks let m and α depend on the value "
        "itself, so its NLL is no likelihood (mean NLL −7.7 nats on N(0, 1), whose entropy is "
        "1.42). univariate_flow='official' keeps them, as the paper's MSL cell does.",
    ),
    # no sha256 known here: the file cannot be fetched from this project's machines; a run
    # records the sha256 of the file it loaded (provenance)
    weights=Weights(url=MAE_URL, file=MAE_FILE, sha256=None, size="about 450 MB"),
)
class VANAD(_VANADBase):
    """VAN-AD with the MAE authors' ImageNet-pretrained ViT-B/16 MAE (frozen) and a trained flow.

    Parameters
    ----------
    window : int
        Window length (``seq_len``); training windows every ``stride`` steps (official: 10),
        test windows do not overlap.
    n_blocks, hidden, n_hidden : int
        The flow: MADE blocks, hidden width, hidden layers.
    lambda_rec, lambda_nf : float
        Weights of the reconstruction error and the flow's negative log-likelihood in the score.
    quirks : bool
        True: the official code's behaviour (image from the raw window, flow fit on ``y``,
        random base mean). False: the clean variant (image from the window normalised by its own
        statistics, flow fit on the ADMM-mapped ``ŷ``, zero base mean), a deviation.
    univariate_flow : {"density", "official"}
        The flow on univariate data (N = 1): a proper density (ours, the default), or the
        official code's masks, which let it model each value by itself and make its NLL no
        likelihood at all (kept for the paper's MSL cell: ``conf/per_dataset/vanad/``).
    precision : {"fp32", "bf16"}
        The frozen MAE's arithmetic: fp32 (the official code) or bf16 autocast, several times
        faster on a GPU (the flow always trains in fp32).
    weights_path : str or None
        The MAE checkpoint (``mae_visualize_vit_base.pth``; a dict with the state dict under
        ``model``, or the state dict itself), or a ``.safetensors`` state dict of Hugging Face's
        ``facebook/vit-mae-base`` (the same network; converted through a key map). None: the
        user cache (``$TSADBENCH_WEIGHTS`` or ``~/.cache/tsadbench/weights``).
    weights_url : str
        Where a missing checkpoint is downloaded from on first use (the MAE authors' release;
        a mirror works). ``TSADBENCH_OFFLINE=1`` forbids the download.
    image_size, patch_size, embed_dim, depth, num_heads, decoder_dim, decoder_depth, \
decoder_heads : int
        The MAE's shape (defaults: ViT-B/16, 8 × 512 decoder); a checkpoint must match it.
    n_epochs, batch_size, lr, random_state, device
        Training settings (official: 5 epochs, 128 windows per batch, lr per dataset).
    """

    # a tiny MAE of the same family; its checkpoint comes from ``test_fixture``
    test_params: ClassVar[dict[str, Any]] = {
        "window": 16,
        "stride": 4,
        "image_size": 16,
        "patch_size": 4,
        "embed_dim": 16,
        "depth": 1,
        "num_heads": 2,
        "decoder_dim": 16,
        "decoder_depth": 1,
        "decoder_heads": 2,
        "n_epochs": 1,
    }

    @classmethod
    def test_fixture(cls, folder: Path) -> dict[str, Any]:
        """A checkpoint of the tiny test MAE, written in the MAE authors' format (the state
        dict under ``model``) and read by the real loading code. Like the real one, it is
        pre-trained on other data than the detector sees: a seeded synthetic series
        (``random_state=1``), 3 epochs of ``vanad_lite``'s random-mask pre-training."""
        from tsadbench.data import load_dataset
        from tsadbench.data.scaling import fit_scaler

        path = Path(folder) / "vanad-test-mae.pth"
        if not path.is_file():
            shape = {k: v for k, v in cls.test_params.items() if k not in ("n_epochs",)}
            lite = VANADLite(**shape, pretrain_epochs=3, random_state=0, device="cpu")
            lite.device_ = "cpu"
            train = load_dataset("synthetic", length=1000, random_state=1).entities[0].train
            scaled = fit_scaler("zscore", train)(train)
            mae = lite._prepare_mae(sliding_windows(scaled, lite.window, lite.stride))
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            torch.save({"model": mae.state_dict()}, tmp)
            tmp.replace(path)
        return {"weights_path": str(path)}

    def __init__(
        self,
        *,
        window: int = 100,
        stride: int = 10,
        n_blocks: int = 2,
        hidden: int = 32,
        n_hidden: int = 1,
        lambda_rec: float = 1.0,
        lambda_nf: float = 1.0,
        quirks: bool = True,
        univariate_flow: str = "density",
        precision: str = "fp32",
        weights_path: str | None = None,
        weights_url: str = MAE_URL,
        image_size: int = 224,
        patch_size: int = 16,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        decoder_dim: int = 512,
        decoder_depth: int = 8,
        decoder_heads: int = 16,
        n_epochs: int = 5,
        batch_size: int = 128,
        lr: float = 1e-3,
        random_state: int | None = None,
        device: str = "auto",
    ) -> None:
        self.window = window
        self.stride = stride
        self.n_blocks = n_blocks
        self.hidden = hidden
        self.n_hidden = n_hidden
        self.lambda_rec = lambda_rec
        self.lambda_nf = lambda_nf
        self.quirks = quirks
        self.univariate_flow = univariate_flow
        self.precision = precision
        self.weights_path = weights_path
        self.weights_url = weights_url
        self.image_size = image_size
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.depth = depth
        self.num_heads = num_heads
        self.decoder_dim = decoder_dim
        self.decoder_depth = decoder_depth
        self.decoder_heads = decoder_heads
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.device = device

    def weights_file(self) -> Path:
        from tsadbench.fetch import weights_dir

        return Path(self.weights_path) if self.weights_path else weights_dir() / MAE_FILE

    def check_available(self, n_channels: int | None = None) -> str | None:
        """Available when the checkpoint is on disk, or its URL answers within seconds (the
        first fit then downloads it)."""
        from tsadbench.fetch import reachable

        path = self.weights_file()
        if not path.is_file():
            why = reachable(self.weights_url)
            if why:
                return (
                    f"the pretrained MAE weights {path.name} are not at {path} and cannot be "
                    f"downloaded here ({why}). Fetch them (about 450 MB) from "
                    f"{self.weights_url} into {path.parent}/ (`tsadbench weights download "
                    f"vanad`), or point detector.weights_path at a copy; detector=vanad_lite "
                    f"needs no pretrained weights."
                )
        return super().check_available(n_channels)

    def _prepare_mae(self, windows: NDArray[np.float32]) -> MAE:
        import sys

        from tsadbench.fetch import download

        path = self.weights_file()
        if not path.is_file():
            download(self.weights_url, path, progress=sys.stderr.isatty(), timeout=15.0)
        mae = self._new_mae()
        try:
            if path.suffix == ".safetensors":  # facebook/vit-mae-base from the Hugging Face hub
                from safetensors.torch import load_file

                state = hf_to_mae(load_file(str(path)))
            else:
                loaded: Any = torch.load(path, map_location="cpu", weights_only=True)
                state = loaded.get("model", loaded) if isinstance(loaded, dict) else loaded
        except ImportError:
            raise ValueError(
                f"{path} is a safetensors file: reading it needs `pip install safetensors`."
            ) from None
        except Exception as exc:
            raise ValueError(
                f"Could not read the MAE checkpoint {path}: {type(exc).__name__}: {exc}. "
                f"Delete it and download it again from {self.weights_url}."
            ) from None
        try:
            mae.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(
                f"The MAE checkpoint {path} does not fit the network (image_size="
                f"{self.image_size}, patch_size={self.patch_size}, embed_dim={self.embed_dim}, "
                f"depth={self.depth}, decoder_dim={self.decoder_dim}, decoder_depth="
                f"{self.decoder_depth}): {exc}"
            ) from None
        from tsadbench.fetch import sha256_of

        self.weights_sha256_ = sha256_of(path)  # streamed: the file is about 450 MB
        return mae

    def provenance(self) -> dict[str, Any]:
        return {"weights": str(self.weights_file()), "weights_sha256": self.weights_sha256_}


@register_detector(
    "vanad_lite",
    faithful=False,
    deviations=(
        "No ImageNet-pretrained MAE (the paper's central claim): a small MAE (encoder 192 × 6, "
        "decoder 128 × 2, 64 × 64 images, 8 × 8 patches) is pre-trained from scratch with random "
        "masking on the images of the training windows, then frozen.",
        "Test points after the last whole window take the last window's score (the official "
        "code drops them).",
        "On univariate data the flow is a proper density by default (univariate_flow="
        "'density': m and α constant); the official masks let m and α depend on the value "
        "itself, so its NLL is no likelihood (mean NLL −7.7 nats on N(0, 1), whose entropy is "
        "1.42). univariate_flow='official' keeps them, as the paper's MSL cell does.",
    ),
)
class VANADLite(_VANADBase):
    """VAN-AD without pretrained weights: the same imaging, masks, ADMM, flow and score, on a
    small MAE pre-trained on the dataset's own training windows. Runs on 2 cores in minutes.

    Parameters
    ----------
    pretrain_epochs : int
        Epochs of MAE pre-training (random masking, MSE on the masked patches' pixels).
    pretrain_mask_ratio : float
        Share of patches masked in pre-training (0.5: what the checkerboard hides at test).
    pretrain_lr : float
        Adam learning rate of the pre-training.
    pretrain_windows : int
        At most this many training windows (evenly spaced) are imaged for the pre-training.
    (the other parameters as for ``vanad``; the MAE's shape defaults to the lite one)
    """

    test_params: ClassVar[dict[str, Any]] = {**VANAD.test_params, "pretrain_epochs": 1}

    def __init__(
        self,
        *,
        window: int = 100,
        stride: int = 10,
        n_blocks: int = 2,
        hidden: int = 32,
        n_hidden: int = 1,
        lambda_rec: float = 1.0,
        lambda_nf: float = 1.0,
        quirks: bool = True,
        univariate_flow: str = "density",
        precision: str = "fp32",
        image_size: int = 64,
        patch_size: int = 8,
        embed_dim: int = 192,
        depth: int = 6,
        num_heads: int = 3,
        decoder_dim: int = 128,
        decoder_depth: int = 2,
        decoder_heads: int = 4,
        pretrain_epochs: int = 5,
        pretrain_mask_ratio: float = 0.5,
        pretrain_lr: float = 1e-3,
        pretrain_windows: int = 1000,
        n_epochs: int = 5,
        batch_size: int = 128,
        lr: float = 1e-3,
        random_state: int | None = None,
        device: str = "auto",
    ) -> None:
        self.window = window
        self.stride = stride
        self.n_blocks = n_blocks
        self.hidden = hidden
        self.n_hidden = n_hidden
        self.lambda_rec = lambda_rec
        self.lambda_nf = lambda_nf
        self.quirks = quirks
        self.univariate_flow = univariate_flow
        self.precision = precision
        self.image_size = image_size
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.depth = depth
        self.num_heads = num_heads
        self.decoder_dim = decoder_dim
        self.decoder_depth = decoder_depth
        self.decoder_heads = decoder_heads
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_mask_ratio = pretrain_mask_ratio
        self.pretrain_lr = pretrain_lr
        self.pretrain_windows = pretrain_windows
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.device = device

    def check_params(self) -> None:
        super().check_params()
        self._check_int("pretrain_epochs", "pretrain_windows")
        r = self.pretrain_mask_ratio
        self._check_param("pretrain_mask_ratio", is_number(r) and 0 < r < 1, "a float in (0, 1)")
        lr = self.pretrain_lr
        self._check_param("pretrain_lr", is_number(lr) and lr > 0, "a float > 0")

    def _prepare_mae(self, windows: NDArray[np.float32]) -> MAE:
        """Pre-train the small MAE on the images of (up to ``pretrain_windows``) training
        windows: random masks, MSE on the masked patches' pixels (no pixel normalisation, like
        the official "visualize" checkpoints)."""
        mae = self._new_mae().to(self.device_)
        pick = np.unique(np.linspace(0, len(windows) - 1, self.pretrain_windows).round())
        images = self._images(torch.tensor(np.asarray(windows[pick.astype(int)])))
        n = mae.grid**2
        n_keep = max(1, round(n * (1 - self.pretrain_mask_ratio)))
        optimizer = torch.optim.Adam(mae.parameters(), lr=self.pretrain_lr)
        seed = self.seed_ if hasattr(self, "seed_") else draw_seed(self.random_state)
        gen = torch.Generator().manual_seed(seed)
        mae.train()
        for _ in range(self.pretrain_epochs):
            order = torch.randperm(len(images), generator=gen)
            for lo in range(0, len(images), self.batch_size):
                img = images[order[lo : lo + self.batch_size]].to(self.device_)
                noise = torch.rand(len(img), n, generator=gen).to(self.device_)
                removed = torch.ones_like(noise)
                removed.scatter_(1, torch.argsort(noise, dim=1)[:, :n_keep], 0.0)
                pred = mae(img, noise, n_keep)
                err = ((pred - mae.patchify(img)) ** 2).mean(dim=-1)
                loss = (err * removed).sum() / removed.sum()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        return mae

    def n_parameters(self) -> int | None:
        """The flow's and the MAE's: both are trained here (the MAE before it is frozen)."""
        flow, mae = super().n_parameters(), getattr(self, "mae_", None)
        if flow is None or mae is None:
            return flow
        return flow + int(sum(p.numel() for p in mae.parameters()))
