"""experiments/short_training_rank.py on a table of the tiny space: trains, caches, resumes, and its
Kendall tau."""

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from dianjax.bench import recipe
from dianjax.bench.networks import enumerate_networks
from dianjax.bench.table import BenchTable
from dianjax.bench.trainer import SeedTrainer

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "short_training_rank.py"
spec = importlib.util.spec_from_file_location("short_training_rank", SCRIPT)
short = importlib.util.module_from_spec(spec)
spec.loader.exec_module(short)


def test_script_trains_once_per_budget_and_resumes(tiny_recipe, tmp_path, capsys, monkeypatch):
    space = SeedTrainer(recipe.get_recipe(tiny_recipe)).space
    networks = enumerate_networks(space)
    val = np.linspace(0.5, 0.9, len(networks))[:, None] + np.array([[0.0, 0.01]])
    table = BenchTable(name="tiny", recipe=recipe.get_recipe(tiny_recipe), op_names=space.op_names,
                       networks=networks, num_params=np.ones(len(networks), int),
                       macs=np.ones(len(networks), int), val_accuracy=val, test_accuracy=val,
                       wall_s=np.ones(len(networks)), machine="test")
    path = tmp_path / "tiny.json"
    table.save(path)
    argv = ["--table", str(path), "--networks", "3", "--epochs", "1", "--out", str(tmp_path)]
    assert short.main(argv) == 0
    out = capsys.readouterr().out
    assert "| 1 | " in out and "ceiling of a one-seed proxy" in out
    with open(tmp_path / "short_training_tiny.csv") as source:
        (row,) = list(csv.DictReader(source))
    assert row["epochs"] == "1" and row["networks"] == "3" and -1 <= float(row["kendall_tau"]) <= 1
    monkeypatch.setattr(SeedTrainer, "train_network", lambda *a: pytest.fail("retrained"))
    assert short.main(argv) == 0  # every result read back from the cache


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "--epochs must be comma-separated positive integers"),
    (["--epochs", "a"], "--epochs must be comma-separated positive integers"),
    (["--table", "nope"], "dianjax.bench.load.name must be one of"),
])
def test_bad_arguments_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        short.main(argv)
    assert message in capsys.readouterr().err
