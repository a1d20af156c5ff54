"""Root-cause metrics: how well a detector's per-channel scores name the channels at fault.

They need what most datasets lack: channel-level labels (SMD's ``interpretation_label`` files,
``Entity.channel_labels``) and a detector that gives per-channel scores (``score_with_channels``,
declared by ``DetectorTags.root_cause``). Where either is missing the runner leaves these metrics
out of the record (never 0).

For each labelled anomalous point t with its true channels G_t, the channels are ranked by
score (highest first, ties in channel order) and the top ``k = floor(P% · |G_t|)`` kept
(OmniAnomaly's and InterFusion's interpretation metrics):

``hitrate_p100``, ``hitrate_p150``
    |top-k ∩ G_t| / |G_t|, averaged over the points (HitRate@100% / @150%);
``ndcg_p100``
    Σ_{i ≤ k} [rank-i channel in G_t] / log2(i + 1), divided by its ideal value
    Σ_{i ≤ min(k, |G_t|)} 1 / log2(i + 1), averaged over the points (NDCG@100%).

The names say ``_p100`` because ``@`` is reserved for threshold protocols.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from tsadbench.registry import register_metric


def _checked(channel_labels: Any, channel_scores: Any, name: str) -> tuple[NDArray[Any], ...]:
    g = np.asarray(channel_labels)
    s = np.asarray(channel_scores, dtype=np.float64)
    if g.ndim != 2 or g.shape != s.shape:
        raise ValueError(
            f"{name} needs channel labels and channel scores of one shape "
            f"(n_timestamps, n_channels); got {g.shape} and {s.shape}."
        )
    if not np.isfinite(s).all():
        raise ValueError(f"{name} got non-finite channel scores.")
    rows = g.astype(bool).any(axis=1)
    if not rows.any():
        raise ValueError(f"{name} is undefined: no point has a labelled channel.")
    return g[rows].astype(bool), s[rows]


def _ranked_hits(g: NDArray[Any], s: NDArray[Any]) -> NDArray[Any]:
    order = np.argsort(-s, axis=1, kind="stable")  # highest first, ties in channel order
    return np.take_along_axis(g, order, axis=1)  # (points, channels): is rank i a true channel


def hitrate(channel_labels: Any, channel_scores: Any, percent: float, name: str) -> float:
    g, s = _checked(channel_labels, channel_scores, name)
    hits = _ranked_hits(g, s)
    size = g.sum(axis=1)
    k = np.floor(percent / 100 * size).astype(int)
    found = np.cumsum(hits, axis=1)[np.arange(len(k)), np.clip(k, 1, g.shape[1]) - 1]
    found = np.where(k > 0, found, 0)
    return float(np.mean(found / size))


def ndcg(channel_labels: Any, channel_scores: Any, percent: float, name: str) -> float:
    g, s = _checked(channel_labels, channel_scores, name)
    hits = _ranked_hits(g, s)
    size = g.sum(axis=1)
    k = np.minimum(np.floor(percent / 100 * size).astype(int), g.shape[1])
    gain = 1.0 / np.log2(np.arange(2, g.shape[1] + 2))
    in_top = np.arange(g.shape[1])[None, :] < k[:, None]
    dcg = (hits * in_top * gain).sum(axis=1)
    ideal = (np.arange(g.shape[1])[None, :] < np.minimum(k, size)[:, None]) * gain
    idcg = ideal.sum(axis=1)
    return float(np.mean(np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)))


@register_metric("hitrate_p100", root_cause=True)
def hitrate_p100(channel_labels: Any, channel_scores: Any) -> float:
    """Share of each anomalous point's true channels among its top |G| channels (HitRate@100%)."""
    return hitrate(channel_labels, channel_scores, 100, "hitrate_p100")


@register_metric("hitrate_p150", root_cause=True)
def hitrate_p150(channel_labels: Any, channel_scores: Any) -> float:
    """Share of each anomalous point's true channels among its top 1.5·|G| (HitRate@150%)."""
    return hitrate(channel_labels, channel_scores, 150, "hitrate_p150")


@register_metric("ndcg_p100", root_cause=True)
def ndcg_p100(channel_labels: Any, channel_scores: Any) -> float:
    """NDCG of the channel ranking over each anomalous point's top |G| channels (NDCG@100%)."""
    return ndcg(channel_labels, channel_scores, 100, "ndcg_p100")
