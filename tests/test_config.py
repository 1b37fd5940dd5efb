"""Config loading and command-line overrides: type checks and clear errors."""

from pathlib import Path

import ml_collections
import pytest

from dianjax import config as config_lib

_CONFIG = '''
import ml_collections
from ml_collections import config_dict

def get_config(arg=None):
    c = ml_collections.ConfigDict()
    c.steps = 10
    c.lam = 0.5
    c.objective = arg or "edp"
    c.hard = False
    c.shape = (1, 2)
    c.area_limit_mm2 = config_dict.placeholder(float)
    c.optim = ml_collections.ConfigDict({"lr": 0.1})
    return c
'''


@pytest.fixture
def config_path(tmp_path):
    path = tmp_path / "exp.py"
    path.write_text(_CONFIG)
    return str(path)


def test_overrides_are_typed(config_path):
    config = config_lib.load_config(config_path, ["steps=5", "lam=1", "hard=true", "objective=latency",
                                                  "shape=[3, 4]", "area_limit_mm2=2.5",
                                                  "optim.lr=0.01"])
    assert (config.steps, config.lam, config.hard, config.objective) == (5, 1.0, True, "latency")
    assert config.shape == (3, 4) and config.area_limit_mm2 == 2.5 and config.optim.lr == 0.01


def test_config_argument(config_path):
    assert config_lib.load_config(config_path + ":energy").objective == "energy"


@pytest.mark.parametrize("override, message", [
    ("stepz=3", r"unknown config key 'stepz'; keys here: \['area_limit_mm2', 'hard'"),
    ("optim.momentum=0.9", r"unknown config key 'optim.momentum'; keys here: \['lr'\]"),
    ("steps.x=1", r"unknown config key 'steps.x': 'steps' is not a section"),
    ("steps=abc", r"config key 'steps' expects int, got 'abc'"),
    ("lam=fast", r"config key 'lam' expects float, got 'fast'"),
    ("steps", r"must look like key=value"),
])
def test_bad_overrides_name_the_key(config_path, override, message):
    with pytest.raises(ValueError, match=message):
        config_lib.load_config(config_path, [override])


def test_missing_config_file_lists_bundled_names(tmp_path):
    with pytest.raises(ValueError, match=r"no config file .*nope\.py.*bundled names \['cifar10'"):
        config_lib.load_config(str(tmp_path / "nope.py"))
    with pytest.raises(ValueError, match=r"no config file 'nope'.*'quickstart', 'refine'"):
        config_lib.load_config("nope")


def test_every_bundled_config_resolves_by_name(tmp_path, monkeypatch):
    """The repo's configs/*.py are the bundled names, found through the installed package."""
    monkeypatch.chdir(tmp_path)  # bare names do not depend on the working directory
    folder = Path(__file__).resolve().parents[1] / "configs"  # this checkout's configs/
    names = {p.stem for p in folder.glob("*.py") if not p.name.startswith("_")}
    assert {"quickstart", "cifar10", "train_derived"} <= names
    assert set(config_lib.bundled_configs()) == names
    for name in sorted(names):
        assert isinstance(config_lib.load_config(name), ml_collections.ConfigDict), name


def test_a_bundled_name_takes_an_argument():
    source, arg = config_lib._config_source("refine:edp")
    assert (source.name, arg) == ("refine.py", "edp")


def test_a_bundled_name_wins_over_a_directory_of_that_name(tmp_path, monkeypatch):
    (tmp_path / "quickstart").mkdir()  # e.g. `dianjax search --workdir quickstart` was run here
    monkeypatch.chdir(tmp_path)
    assert config_lib.load_config("quickstart").space == "quickstart"


def test_split_config_args():
    spec, overrides, rest = config_lib.split_config_args(
        ["--config", "configs/x.py", "--config.lam=2", "--config.steps", "4", "--workdir", "d"])
    assert spec == "configs/x.py" and overrides == ["lam=2", "steps=4"] and rest == ["--workdir", "d"]
