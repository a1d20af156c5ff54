from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tsadbench.registry import DETECTORS, Registry, list_detectors


@dataclass(frozen=True)
class Flavour:
    flavour: str = "plain"


def make_registry() -> Registry[object, Flavour]:
    reg: Registry[object, Flavour] = Registry("thing", info=Flavour)

    @reg.register("alpha_one")
    def alpha_one(x: int = 1) -> int:
        """The first thing."""
        return x

    @reg.register("alpha_two", flavour="b")
    def alpha_two() -> int:
        return 2

    return reg


def test_register_create_list_and_describe():
    reg = make_registry()
    assert reg.create("alpha_one", x=5) == 5
    assert reg.list() == ["alpha_one", "alpha_two"]
    assert reg.list("*two") == ["alpha_two"]
    assert reg.entry("alpha_one").description == "The first thing."
    assert reg.entry("alpha_two").info == Flavour("b")  # typed, not a dict of strings
    assert reg.entry("alpha_one").info == Flavour()
    assert "alpha_one" in reg and "beta" not in reg
    with pytest.raises(TypeError, match="colour"):
        reg.register("alpha_three", colour="red")


LIGHT = """
from registry_target import REG

@REG.register("feather")
def feather():
    return 1
"""
HEAVY = """
import my_heavy_dependency  # not installed: listing and getting feather must not import this

from registry_target import REG

@REG.register("anvil")
class Anvil: ...
"""
TARGET = """
from dataclasses import dataclass

from tsadbench.registry import Registry

@dataclass(frozen=True)
class Info: ...

REG = Registry("thing", "my_things", info=Info)
"""


def test_builtins_are_discovered_in_their_package_and_imported_one_module_at_a_time(
    tmp_path, monkeypatch
):
    """No hand-kept list: a module dropped into the package is found by reading its source;
    listing imports nothing, a lookup imports only the module that registers the name."""
    import importlib

    pkg = tmp_path / "my_things"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "light.py").write_text(LIGHT)
    (pkg / "heavy.py").write_text(HEAVY)
    (tmp_path / "registry_target.py").write_text(TARGET)
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = importlib.import_module("registry_target").REG
    assert reg.list() == ["anvil", "feather"]  # read from the sources
    assert "my_things.light" not in sys.modules and "my_things.heavy" not in sys.modules
    assert reg.create("feather") == 1
    assert "my_things.light" in sys.modules and "my_things.heavy" not in sys.modules
    with pytest.raises(ModuleNotFoundError, match="my_heavy_dependency"):
        reg.get("anvil")


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ValueError, match=r"Unknown thing 'alpha_on'\. Did you mean 'alpha_one'"):
        make_registry().get("alpha_on")


def test_duplicate_and_malformed_names_raise():
    reg = make_registry()
    with pytest.raises(ValueError, match="already registered"):
        reg.register("alpha_one")(lambda: 0)
    with pytest.raises(ValueError, match="snake_case"):
        reg.register("Alpha-One")


def test_builtin_detectors_are_registered():
    names = list_detectors()
    for name in ("iforest", "pca", "knn", "lof", "random", "ae", "memae"):
        assert name in names
    assert DETECTORS.entry("memae").info.faithful is False
    assert DETECTORS.entry("memae").info.deviations


PLUGIN = '''
import numpy as np
from tsadbench.detectors import BaseDetector, register_detector

@register_detector("plugin_mean", faithful=True)
class MeanDistance(BaseDetector):
    """Distance of each point to the train mean (a user's plug-in)."""

    def __init__(self, *, power: int = 2):
        self.power = power

    def _fit(self, X):
        self.mean_ = X.mean(axis=0)

    def _score(self, X):
        return (np.abs(X - self.mean_) ** self.power).sum(axis=1)
'''


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    """A tiny installed-looking package that joins through the entry-point group."""
    pkg = tmp_path / "my_tsad_plugin"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    dist = tmp_path / "my_tsad_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-tsad-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[tsadbench.detectors]\nmine = my_tsad_plugin\n")
    return tmp_path


def _tsadbench(args: list[str], plugin_path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from tsadbench.cli import main; main()"
    env = {"PYTHONPATH": str(plugin_path), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.mark.slow  # over 5 s on 2 cores: `make test-slow`
def test_plugin_detector_is_listed_and_runs_by_name(plugin_path: Path, tmp_path: Path):
    listed = _tsadbench(["list", "detectors"], plugin_path, tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "plugin_mean" in listed.stdout and "a user's plug-in" in listed.stdout

    results = tmp_path / "results"
    ran = _tsadbench(
        ["run", "detector=plugin_mean", "detector.power=1", f"results_dir={results}"],
        plugin_path,
        tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    records = list(results.glob("*/record.json"))
    assert len(records) == 1
    text = records[0].read_text()
    assert '"name": "plugin_mean"' in text and '"power": 1' in text and '"status": "ok"' in text
