"""Every shipped config composes, builds through the registry (the one construction path, as a
run builds it) and agrees with the code it configures."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from tsadbench.data import Dataset, load_dataset
from tsadbench.detectors import BaseDetector
from tsadbench.registry import DATASETS, DETECTORS, create_detector
from tsadbench.settings import settings_from_config

CONF = files("tsadbench.conf")
DETECTOR_YAMLS = sorted(
    p.name[:-5] for p in (CONF / "detector").iterdir() if p.name.endswith(".yaml")
)
DATASET_YAMLS = sorted(
    p.name[:-5] for p in (CONF / "dataset").iterdir() if p.name.endswith(".yaml")
)
FOLLOWS_TOP_LEVEL = {"random_state": "${seed}", "device": "${device}"}


@contextmanager
def composed(*overrides: str) -> Iterator[object]:
    with initialize_config_module(config_module="tsadbench.conf", version_base=None):
        yield compose(config_name="config", overrides=list(overrides))


def test_top_level_settings_are_typed_by_the_schema():
    """``tsadbench.settings.RunConfig`` types the top level: ``force=no`` is false (not the
    truthy string it was), a seed that is no int is refused naming the key."""
    from hydra.errors import ConfigCompositionException

    from tsadbench.settings import settings_from_config

    with composed("force=no", "isolate=off", "results_dir=/tmp/x") as cfg:
        assert cfg.force is False and cfg.isolate is False
        s = settings_from_config(cfg)
    assert (s.force, s.isolate) == (False, False)
    with composed("force=yes", "timeout_s=5", "results_dir=/tmp/x") as cfg:
        s = settings_from_config(cfg)
    assert (s.force, s.isolate, s.timeout_s) == (True, True, 5.0)
    with pytest.raises(ConfigCompositionException) as err:
        with composed("seed=abc"):
            pass
    assert "full_key: seed" in str(err.value.__cause__)
    with pytest.raises(ConfigCompositionException):
        with composed("force=maybe"):
            pass


def test_every_builtin_detector_has_a_yaml():
    builtin = [e.name for e in DETECTORS.entries() if e.obj.__module__.startswith("tsadbench.")]
    assert sorted(builtin) == DETECTOR_YAMLS


@pytest.mark.parametrize("name", DETECTOR_YAMLS)
def test_detector_yaml_matches_init(name):
    raw = OmegaConf.to_container(OmegaConf.load(str(CONF / "detector" / f"{name}.yaml")))
    assert "_target_" not in raw  # one construction path: the registry, by name
    assert raw.pop("name") == name
    cls = DETECTORS.get(name)
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert list(raw) == [p.name for p in params], "same arguments, same order"
    for p in params:
        expected = FOLLOWS_TOP_LEVEL.get(p.name, p.default)
        if isinstance(expected, tuple):  # an immutable default is a YAML list
            expected = list(expected)
        assert raw[p.name] == expected, f"{name}.{p.name}: YAML {raw[p.name]!r} != {expected!r}"


@pytest.mark.parametrize("name", DETECTOR_YAMLS)
def test_detector_config_composes_and_builds(name):
    with composed(f"detector={name}", "seed=3", "device=cpu", "results_dir=/tmp/x") as cfg:
        s = settings_from_config(cfg)
    det = create_detector(s.detector, **s.detector_params)
    assert isinstance(det, BaseDetector)
    if "random_state" in det.get_params():
        assert det.random_state == 3


@pytest.mark.parametrize("name", DATASET_YAMLS)
def test_dataset_config_composes_and_loads(name):
    import os

    assert name in DATASETS
    data = os.environ.get("TSADBENCH_DATA")
    if name == "csv":
        pytest.skip("needs a user file (dataset.path); tested in tests/unit/test_datasets.py")
    if name != "synthetic" and not data:
        pytest.skip("needs the real benchmark data: set TSADBENCH_DATA")
    with composed(f"dataset={name}", "results_dir=/tmp/x") as cfg:
        s = settings_from_config(cfg)
    try:
        ds = load_dataset(s.dataset_loader or s.dataset, data, **s.dataset_params)
    except (FileNotFoundError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError) or "is missing" in str(exc):
            pytest.skip(f"{name} is not in the shared data (tested on generated files)")
        raise
    assert isinstance(ds, Dataset) and ds.entities


def test_every_dataset_has_a_yaml():
    assert sorted(DATASETS.list()) == DATASET_YAMLS


def test_hydra_output_goes_under_results_dir():
    with composed("results_dir=/somewhere") as cfg:
        assert cfg.results_dir == "/somewhere"
    with initialize_config_module(config_module="tsadbench.conf", version_base=None):
        hcfg = compose(
            config_name="config", overrides=["results_dir=/somewhere"], return_hydra_config=True
        )
        assert str(hcfg.hydra.run.dir).startswith("/somewhere/.hydra/")
        assert str(hcfg.hydra.sweep.dir).startswith("/somewhere/.hydra/")
        assert hcfg.hydra.job.chdir is False


METRIC_SETS = sorted(p.name[:-5] for p in (CONF / "metrics").iterdir() if p.name.endswith(".yaml"))


@pytest.mark.parametrize("name", METRIC_SETS)
def test_every_metric_set_resolves(name):
    from tsadbench.metrics import parse_metric

    with composed(f"metrics={name}") as cfg:
        specs = [parse_metric(n) for n in cfg.metrics.names]
    assert specs and len({s.name for s in specs}) == len(specs)


def test_the_ci_suite_sweeps_every_registered_detector_over_four_datasets():
    from hydra.types import RunMode

    from tsadbench.cli.run import register_resolvers

    register_resolvers()
    with initialize_config_module(config_module="tsadbench.conf", version_base=None):
        cfg = compose(config_name="config", overrides=["suite=ci"], return_hydra_config=True)
        assert cfg.hydra.mode == RunMode.MULTIRUN and cfg.n_jobs == 2 and cfg.seed == 0
        params = cfg.hydra.sweeper.params
        assert params.detector.split(",") == DETECTORS.list()
        assert params.dataset.split(",") == ["synthetic", "smd", "msl", "nab"]
        assert "vus_pr" in cfg.metrics.names
    # the suite's own settings apply to the chosen detector and dataset, and only in the suite
    with composed("suite=ci", "detector=memae", "dataset=smd") as cfg:
        assert cfg.detector.n_epochs == 3 and cfg.dataset.test_slice == [4000, 6000]
        # CI numbers are marked reduced in every record and report row, never taken for real ones
        assert "CI suite" in settings_from_config(cfg).reduced
    with composed("detector=memae", "dataset=smd") as cfg:
        assert cfg.detector.n_epochs == 50 and "test_slice" not in cfg.dataset
        assert settings_from_config(cfg).reduced is None


def test_the_published_boards_suite_sweeps_every_registered_detector_over_four_datasets():
    from hydra.types import RunMode

    from tsadbench.cli.run import register_resolvers
    from tsadbench.report.board import reduced_detectors

    register_resolvers()
    with initialize_config_module(config_module="tsadbench.conf", version_base=None):
        cfg = compose(
            config_name="config", overrides=["suite=leaderboard"], return_hydra_config=True
        )
        assert cfg.hydra.mode == RunMode.MULTIRUN and cfg.seed == 0
        params = cfg.hydra.sweeper.params
        assert params.detector.split(",") == DETECTORS.list()
        assert params.dataset.split(",") == ["smd", "msl", "smap", "nab"]
        assert cfg.metrics.names[:4] == ["auc_roc", "auc_pr", "vus_roc", "vus_pr"]
    # each reduced detector's settings name only parameters it has, and win over a paper's
    # per-dataset ones; every run of the board is marked reduced
    assert reduced_detectors() and reduced_detectors() <= set(DETECTORS.list())
    for name in sorted(reduced_detectors()):
        reduced = OmegaConf.load(CONF / "suite" / "leaderboard" / "detector" / f"{name}.yaml")
        with composed("suite=leaderboard", f"detector={name}", "dataset=msl") as cfg:
            settings = settings_from_config(cfg)
            assert {k: settings.detector_params[k] for k in reduced} == reduced
            assert "board's settings" in settings.reduced
    with composed("suite=leaderboard", "detector=tadgan", "dataset=smd") as cfg:
        assert cfg.detector.n_epochs == 5 and cfg.dataset.test_slice == [0, 10000]


def test_the_vanad_reproduction_suite_carries_the_published_table():
    from tsadbench.cli.run import register_resolvers

    register_resolvers()
    with initialize_config_module(config_module="tsadbench.conf", version_base=None):
        cfg = compose(
            config_name="config",
            overrides=["suite=paper_vanad", "detector=vanad", "dataset=msl_concat"],
            return_hydra_config=True,
        )
    assert cfg.hydra.sweeper.params.dataset == "msl_concat,psm"
    assert cfg.paper.scores.msl_concat.vus_pr == 0.297 and cfg.paper.scores.psm.auc_roc == 0.815
    assert list(cfg.dataset.channels) == [0]  # VAN-AD's MSL is channel 0 only
    # the official MSL settings, from conf/per_dataset/, also outside the suite
    assert cfg.detector.lambda_nf == 0.001 and cfg.detector.lr == 0.005
    assert cfg.detector.univariate_flow == "official"  # the paper's N = 1 flow (issue 21, 7)
    with composed("detector=vanad", "dataset=psm") as plain:
        assert plain.detector.window == 196 and plain.detector.n_blocks == 5
        assert plain.detector.univariate_flow == "density"
        assert plain.paper is None and plain.dataset.get("train_slice") is None
    # on PSM: NaN -> 0, the scaler fitted on the whole train split, training on its first 70%
    # (issue 21, item 3)
    with composed("suite=paper_vanad", "detector=vanad", "dataset=psm") as psm:
        assert psm.dataset.nan == "zero" and list(psm.dataset.train_slice) == [0, 92736]
        assert list(psm.dataset.scaler_slice) == [0, None]


def test_the_tadgan_reproduction_suites_follow_orions_pipelines():
    from tsadbench.cli.run import register_resolvers

    register_resolvers()
    with initialize_config_module(config_module="tsadbench.conf", version_base=None):
        nasa = compose(
            config_name="config",
            overrides=["suite=paper_tadgan_nasa", "dataset=smap"],
            return_hydra_config=True,
        )
        nab = [
            compose(
                config_name="config",
                overrides=["suite=paper_tadgan_nab", f"+suite/paper_tadgan_nab/family={f}"],
                return_hydra_config=True,
            )
            for f in ("art", "aws", "adex", "traffic", "tweets")
        ]
    assert nasa.hydra.sweeper.params.dataset == "msl,smap"
    assert nasa.detector.name == "tadgan" and nasa.detector.n_epochs == 70
    assert (nasa.detector.error, nasa.detector.comb) == ("dtw", "mult")
    assert list(nasa.dataset.channels) == [0] and len(nasa.dataset.entities) == 53
    assert "P-2" not in nasa.dataset.entities
    assert nasa.paper.aggregation == "summed_counts"
    assert nasa.paper.scores.msl["orion_overlap_f1@orion_window"] == 0.578
    assert nab[0].hydra.sweeper.params["+suite/paper_tadgan_nab/family"].count(",") == 4
    got = {c.dataset.label: (c.dataset.interval, c.detector.comb, c.detector.n_epochs) for c in nab}
    assert got == {
        "nab_art": (600, "mult", 35),
        "nab_aws": (600, "mult", 35),
        "nab_adex": (3600, "sum", 35),
        "nab_traffic": (600, "sum", 35),
        "nab_tweets": (600, "sum", 35),
    }
    assert all(c.dataset.split == "none" and c.detector.error == "dtw" for c in nab)
    assert len(nab[2].dataset.entities) == 5
    assert "realAdExchange/exchange-4_cpc_results" not in nab[2].dataset.entities
    assert set(nab[0].paper.scores) == set(got)
    # the CI suite's settings win over a paper's per-dataset settings
    with composed("suite=ci", "detector=tadgan", "dataset=msl") as ci:
        assert ci.detector.n_epochs == 1


def test_the_oraclead_reproduction_suite_carries_both_tables_and_the_ae_baseline():
    from tsadbench.cli.run import register_resolvers

    register_resolvers()
    with initialize_config_module(config_module="tsadbench.conf", version_base=None):
        cfg = compose(
            config_name="config", overrides=["suite=paper_oraclead_smd"], return_hydra_config=True
        )
    assert cfg.hydra.sweeper.params.seed == "0,1,2,3,4"
    assert cfg.hydra.sweeper.params.detector == "oraclead,ae"
    assert cfg.dataset.name == "smd" and cfg.detector.name == "oraclead"
    assert (
        "range_f1(r_alpha=0.0)@oracle" in cfg.metrics.names and "hitrate_p100" in cfg.metrics.names
    )
    tables = {(p.detector, "ablation" in p.source): p.scores.smd for p in cfg.paper}
    assert tables[("oraclead", False)]["f1@oracle"] == 0.4303
    assert tables[("oraclead", True)]["vus_pr"] == 0.5663
    assert tables[("ae", False)]["auc_pr"] == 0.194
    with composed("detector=oraclead", "dataset=psm") as psm:
        assert psm.detector.lr == 5e-05  # the paper's PSM learning rate


def test_the_anomaly_transformer_suites_follow_the_official_scripts():
    from tsadbench.cli.run import register_resolvers

    register_resolvers()
    key = "pa_f1(compat='anomaly_transformer')@train_test_ratio(compat='anomaly_transformer')"
    with initialize_config_module(config_module="tsadbench.conf", version_base=None):
        paper = compose(
            config_name="config",
            overrides=["suite=paper_anomaly_transformer", "dataset=smd_concat"],
            return_hydra_config=True,
        )
        cpu = compose(
            config_name="config",
            overrides=[
                "suite=paper_anomaly_transformer_cpu",
                "dataset=msl_concat",
                "detector=amad",
            ],
            return_hydra_config=True,
        )
    assert paper.hydra.sweeper.params.detector == "anomaly_transformer,amad"
    assert paper.detector.stride == 100 and paper.detector.n_epochs == 10  # the SMD script
    assert paper.detector.d_model == 512 and paper.reduced is None
    assert paper.paper[0].scores.msl_concat[key] == 0.9359
    assert paper.paper[0].scores.smd_concat[key[:-1] + ",r=0.5)"] == 0.9233
    assert key in paper.metrics.names
    assert "smd_concat" not in cpu.hydra.sweeper.params.dataset
    assert cpu.detector.name == "amad" and cpu.detector.d_model == 128 and cpu.detector.stride == 10
    assert cpu.detector.n_epochs == 3 and "cpu setting" in cpu.reduced
    assert cpu.paper[0].scores.msl_concat[key] == 0.9359
    # the official PSM loader sets NaNs to 0 (issue 21, item 8); outside the suites: ffill
    for suite in ("paper_anomaly_transformer", "paper_anomaly_transformer_cpu"):
        with composed(f"suite={suite}", "dataset=psm") as psm:
            assert psm.dataset.nan == "zero", suite
    with composed("detector=anomaly_transformer", "dataset=psm") as plain:
        assert plain.dataset.nan == "ffill"
