"""Metrics: pure functions registered by name, and ``evaluate`` that applies a metric set.

Usable without Hydra or the CLI::

    from tsadbench.metrics import evaluate
    evaluate(labels, scores, ["auc_pr", "vus_pr(window=50)", "pa_f1@oracle"],
             train_scores=train_scores)

Naming rule (ARCHITECTURE.md): threshold-free metrics keep their bare name (``vus_pr``);
threshold-dependent ones are always written ``<metric>@<protocol>`` (``pa_f1@oracle``,
``f1@train_quantile``). Parameters that differ from the defaults are written in the name, in
parentheses, on the metric or on the protocol: ``vus_pr(window=50)``,
``pa_k_f1(k=50)@train_quantile(q=0.995)``. :func:`parse_metric` resolves a name to a
:class:`MetricSpec` holding every parameter, defaults included; the runner stores them with the
value. Threshold protocols are documented in :mod:`tsadbench.metrics.thresholds`.

Registering a metric::

    @register_metric("vus_pr")                          # threshold-free
    def vus_pr(labels, scores, *, window=100): ...

    @register_metric("pa_f1", needs_threshold=True, oracle=best_pa_f1)
    def pa_f1(labels, predictions): ...                 # predictions: 0/1 per point

``oracle`` is a function ``(labels, scores, **params) -> (value, threshold)``; a companion
such as ``pa_precision`` declares ``oracle_of="pa_f1"`` and is evaluated at that threshold.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tsadbench.metrics.thresholds import PROTOCOLS, predictions
from tsadbench.metrics.validation import check_labels_scores
from tsadbench.registry import METRICS, list_metrics, register_metric

__all__ = [
    "METRICS",
    "PROTOCOLS",
    "Evaluation",
    "MetricSpec",
    "check_params",
    "compute",
    "compute_root_cause",
    "evaluate",
    "is_root_cause",
    "list_metrics",
    "metric_defaults",
    "needs_train_energies",
    "parse_metric",
    "parse_metric_set",
    "reads_train_scores",
    "register_metric",
]

_PART = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*(?:\((.*)\))?\s*$")


def _parse_params(text: str | None, where: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if not text or not text.strip():
        return params
    for item in text.split(","):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(
                f"Cannot read the parameters of {where!r}: expected 'name=value' "
                f"items separated by commas, got {item.strip()!r}."
            )
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()
        params[key.strip()] = value
    return params


def _format(name: str, params: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    changed = {k: v for k, v in params.items() if defaults.get(k, object()) != v}
    if not changed:
        return name
    return name + "(" + ",".join(f"{k}={v!r}" for k, v in sorted(changed.items())) + ")"


def metric_defaults(metric: str) -> dict[str, Any]:
    """The keyword parameters of a registered metric and their defaults."""
    entry = METRICS.entry(metric)
    sig = inspect.signature(entry.obj)
    return {p.name: p.default for p in sig.parameters.values() if p.kind == p.KEYWORD_ONLY}


def oracle_defaults(metric: str) -> dict[str, Any]:
    """The oracle's parameters for ``metric``: none where the search is exact over every
    distinct score in O(n log n); the size of the rank-quantile grid where each threshold costs
    O(n) (0 = every distinct score)."""
    source = METRICS.entry(metric).info.oracle_of or metric
    return {"n_thresholds": 250} if METRICS.entry(source).info.oracle_grid else {}


def _resolve(given: Mapping[str, Any], defaults: Mapping[str, Any], what: str) -> dict[str, Any]:
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(
            f"{what} has no parameter(s) {', '.join(map(repr, unknown))}; "
            f"its parameters: {', '.join(defaults) or 'none'}."
        )
    return {**defaults, **given}


@dataclass(frozen=True)
class MetricSpec:
    """One metric of a metric set, fully resolved: what is stored beside its value."""

    name: str  # the canonical name, the record's key
    metric: str
    params: dict[str, Any] = field(default_factory=dict)
    protocol: str | None = None
    protocol_params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metric": self.metric, "params": dict(self.params)}
        if self.protocol is not None:
            out["protocol"] = self.protocol
            out["protocol_params"] = dict(self.protocol_params)
        return out


def parse_metric(full_name: str) -> MetricSpec:
    """Resolve ``"pa_k_f1(k=50)@train_quantile(q=0.995)"`` into a :class:`MetricSpec`."""
    text = str(full_name)
    metric_part, at, protocol_part = text.partition("@")
    m = _PART.match(metric_part)
    if not m:
        raise ValueError(
            f"Cannot read the metric name {text!r}: expected "
            f"'metric', 'metric(k=v,...)' or 'metric@protocol(k=v,...)'."
        )
    metric = m.group(1)
    entry = METRICS.entry(metric)
    defaults = metric_defaults(metric)
    params = _resolve(_parse_params(m.group(2), text), defaults, f"The metric {metric!r}")
    name = _format(metric, params, defaults)
    if not entry.info.needs_threshold:
        if at:
            raise ValueError(
                f"The metric {metric!r} is threshold-free; write {name!r}, not {text!r}."
            )
        return MetricSpec(name=name, metric=metric, params=params)
    if not at:
        raise ValueError(
            f"The metric {metric!r} needs a threshold protocol: write '{metric}@<protocol>' "
            f"with one of {sorted(PROTOCOLS)} (e.g. '{metric}@oracle')."
        )
    p = _PART.match(protocol_part)
    if not p or p.group(1) not in PROTOCOLS:
        raise ValueError(
            f"Unknown threshold protocol {protocol_part!r} in {text!r}. "
            f"Available: {', '.join(sorted(PROTOCOLS))}."
        )
    protocol = PROTOCOLS[p.group(1)]
    pdefaults = oracle_defaults(metric) if protocol.name == "oracle" else protocol.defaults
    pparams = _resolve(
        _parse_params(p.group(2), text),
        pdefaults,
        f"The threshold protocol {protocol.name!r} of {metric!r}",
    )
    if protocol.name == "fixed" and pparams["t"] is None:
        raise ValueError(
            f"The threshold protocol 'fixed' needs its threshold: write '{metric}@fixed(t=...)'."
        )
    name += "@" + _format(protocol.name, pparams, pdefaults)
    return MetricSpec(
        name=name, metric=metric, params=params, protocol=protocol.name, protocol_params=pparams
    )


def compute(
    spec: MetricSpec,
    labels: Any,
    scores: Any,
    train_scores: Any = None,
    train_energies: Any = None,
) -> float:
    """The value of one resolved metric on one series. ``train_energies``: the detector's
    per-window-position train energies, pooled by ``train_test_ratio(compat=...)``."""
    entry = METRICS.entry(spec.metric)
    if entry.info.root_cause:
        raise ValueError(
            f"{spec.name!r} is a root-cause metric: it takes channel labels and per-channel "
            f"scores (compute_root_cause), not labels and scores."
        )
    if spec.protocol is None:
        return float(entry.obj(labels, scores, **spec.params))
    _, scores = check_labels_scores(labels, scores, name=spec.name, need_both_classes=False)
    if spec.protocol == "oracle":
        source = entry.info.oracle_of
        if source is None:
            value, _ = _oracle(spec.metric)(labels, scores, **spec.params, **spec.protocol_params)
            return float(value)
        # a companion (precision, recall) at the threshold that maximises its F1
        source_params = {k: v for k, v in spec.params.items() if k in metric_defaults(source)}
        oracle = _oracle(source)
        _, thr = oracle(labels, scores, **source_params, **spec.protocol_params)
        return float(entry.obj(labels, scores >= thr, **spec.params))
    if needs_train_energies(spec):
        if train_energies is None:
            raise ValueError(
                f"{spec.name!r} pools the detector's window energies on the train split, as the "
                f"Anomaly Transformer's code does; none were given (detectors whose tags declare "
                f"window_energies: anomaly_transformer, amad, random; a run stores them only "
                f"when its metric set asks for this protocol)."
            )
        train_scores = train_energies
    train = None if train_scores is None else np.asarray(train_scores, dtype=np.float64)
    predicted = predictions(spec.protocol, scores, train, **spec.protocol_params)
    return float(entry.obj(labels, predicted, **spec.params))


def _oracle(metric: str) -> Callable[..., tuple[float, float]]:
    oracle = METRICS.entry(metric).info.oracle
    if oracle is None:
        raise ValueError(f"The metric {metric!r} declares no oracle (best value over thresholds).")
    return oracle


def needs_train_energies(spec: MetricSpec) -> bool:
    """Whether the metric's threshold pools the detector's window energies on train
    (``train_test_ratio(compat='anomaly_transformer')``), which the runner then computes."""
    return spec.protocol_params.get("compat") == "anomaly_transformer"


def reads_train_scores(spec: MetricSpec) -> bool:
    """Whether the metric's threshold protocol reads the detector's train scores."""
    return spec.protocol is not None and PROTOCOLS[spec.protocol].uses_train_scores


def is_root_cause(spec: MetricSpec) -> bool:
    """Whether the metric rates per-channel scores against channel labels (root cause)."""
    return METRICS.entry(spec.metric).info.root_cause


def compute_root_cause(spec: MetricSpec, channel_labels: Any, channel_scores: Any) -> float:
    """The value of one root-cause metric: channel labels and scores, (n_timestamps, n_channels)."""
    return float(METRICS.entry(spec.metric).obj(channel_labels, channel_scores, **spec.params))


class Evaluation(dict[str, float]):
    """A metric set's values by canonical name (a ``dict``), NaN wherever a metric could not be
    computed, with the reason in ``errors`` and each metric's resolved parameters in
    ``params``."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: dict[str, str] = {}
        self.params: dict[str, dict[str, Any]] = {}


def evaluate(
    labels: Any,
    scores: Any,
    names: Iterable[str | MetricSpec],
    train_scores: Any = None,
    train_energies: Any = None,
    *,
    channel_labels: Any = None,
    channel_scores: Any = None,
    incomparable: str | None = None,
) -> Evaluation:
    """Compute every metric in ``names`` on one series: the one place a metric set is computed
    (runs, re-evaluation, pooled reports, ``tsadbench evaluate``, the library). A metric that
    cannot be computed (undefined on this data, a missing input) is NaN with its reason in
    ``.errors``; it never stops the others and is never 0. Bad input (labels and scores of
    different lengths, labels not 0/1, scores not finite) raises ``ValueError``.

    Parameters
    ----------
    labels : array of shape (n_timestamps,), 0/1
    scores : array of shape (n_timestamps,), higher = more anomalous
    names : metric names following the naming rule (or parsed ``MetricSpec``s)
    train_scores : array of shape (n_train,), optional
        The detector's scores on its train split, for the label-free protocols.
    train_energies : array, optional
        The detector's per-window-position train energies (``window_energies``), for
        ``train_test_ratio(compat='anomaly_transformer')``.
    channel_labels, channel_scores : arrays of shape (n_timestamps, n_channels), optional
        For the root-cause metrics.
    incomparable : str, optional
        Why the detector's train scores cannot set a threshold for its test scores (scores
        standardised per series): every protocol that reads them gives NaN with this reason.

    Returns
    -------
    Evaluation: a dict mapping each canonical metric name to its float value, with ``errors``
    and ``params``.
    """
    # bad input (lengths, non-binary labels, non-finite scores) is refused for the whole set;
    # a metric undefined on good input (one class only, say) is NaN with its reason
    check_labels_scores(labels, scores, name="The metric set", need_both_classes=False)
    out = Evaluation()
    for item in names:
        spec = item if isinstance(item, MetricSpec) else parse_metric(item)
        out.params[spec.name] = spec.describe()
        try:
            if incomparable is not None and reads_train_scores(spec):
                raise ValueError(incomparable)
            if is_root_cause(spec):
                if channel_scores is None or channel_labels is None:
                    raise ValueError(
                        "a root-cause metric needs per-channel scores and channel labels; "
                        + (
                            "the detector gives no per-channel scores"
                            if channel_scores is None
                            else "the dataset has no channel labels"
                        )
                    )
                value = compute_root_cause(spec, channel_labels, channel_scores)
            else:
                value = compute(spec, labels, scores, train_scores, train_energies)
            if not np.isfinite(value):
                raise FloatingPointError(f"the value is {value}")
            out[spec.name] = value
        except Exception as exc:  # undefined here: NaN and the reason, the others go on
            out[spec.name] = float("nan")
            out.errors[spec.name] = f"{type(exc).__name__}: {exc}"
    return out


def parse_metric_set(names: Iterable[str]) -> list[MetricSpec]:
    """Every name resolved (:func:`parse_metric`) and its parameter values checked
    (:func:`check_params`): a bad name or value raises ``ValueError`` before any metric runs."""
    specs = [parse_metric(name) for name in names]
    check_params(specs)
    return specs


_BAD_PARAMETER = re.compile(r"^ValueError: The '(\w+)' parameter ")


def check_params(specs: Iterable[MetricSpec]) -> None:
    """Raise ``ValueError`` naming the metric when a parameter value given in a metric's name
    is invalid (``vus_pr(window=-5)``), before any run: each metric checks its own parameters
    as it computes, so those given are tried on a small made-up series and only a complaint
    about a parameter is raised (anything else is left to the real data). The series is
    shorter than any real one, so this costs less than computing those metrics once."""
    given = [s for s in specs if "(" in s.name]  # the canonical name shows values not default
    if not given:
        return
    n = 400
    labels = np.zeros(n, dtype=np.int8)
    labels[np.r_[100:110, 250:262]] = 1
    scores = labels + np.linspace(0.0, 0.5, n)
    train = np.linspace(0.0, 0.6, n)
    channels = np.stack([labels, labels, np.zeros(n, dtype=np.int8)], axis=1)
    found = evaluate(
        labels,
        scores,
        given,
        train_scores=train,
        train_energies=np.tile(train[:, None], (1, 8)),
        channel_labels=channels,
        channel_scores=channels + np.linspace(0.0, 0.5, n)[:, None],
    )
    for name, error in found.errors.items():
        if _BAD_PARAMETER.match(error):
            raise ValueError(f"{name}: {error.removeprefix('ValueError: ')}")
