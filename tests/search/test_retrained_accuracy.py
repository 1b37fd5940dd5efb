"""A searched pair's headline accuracy is a retrained one: final training, else the benchmark
table, else said to be unmeasured (with the command); never the supernet proxy."""

import numpy as np

from dianjax.bench import recipe, table as bench_table
from dianjax.bench.networks import enumerate_networks
from dianjax.nas.search_space import get_space
from dianjax.search.result import _retrained_line, retrained_accuracy

OPS = ("mb_k3_e1", "skip", "mb_k5_e3", "mb_k3_e3")


def test_final_training_comes_first():
    out = retrained_accuracy("digits", "quickstart", OPS, {"test_accuracy": 0.97, "steps": 660})
    assert out == {"test_accuracy": 0.97, "source": "final training (660 steps, train split)"}


def test_without_a_table_it_says_how_to_measure(monkeypatch):
    monkeypatch.setattr(bench_table, "bundled_tables", lambda: ())
    out = retrained_accuracy("digits", "quickstart", OPS, None)
    assert out["test_accuracy"] is None and "dianjax train" in out["source"]
    assert "'mb_k3_e1','skip','mb_k5_e3','mb_k3_e3'" in out["source"]
    assert "not measured" in _retrained_line(out)


def test_with_a_bundled_table_it_reads_the_networks_row(monkeypatch, tmp_path):
    space = get_space("quickstart")
    networks = enumerate_networks(space)
    test = np.linspace(0.9, 0.99, len(networks))[:, None] + np.array([[-0.01, 0.0, 0.01]])
    table = bench_table.BenchTable(
        name="quickstart_digits", recipe=recipe.get_recipe("quickstart_digits"),
        op_names=space.op_names, networks=networks, num_params=np.ones(len(networks), int),
        macs=np.ones(len(networks), int), val_accuracy=test - 0.02, test_accuracy=test,
        wall_s=np.ones(len(networks)), machine="test")
    monkeypatch.setattr(bench_table, "bundled_tables", lambda: ("quickstart_digits",))
    monkeypatch.setattr(bench_table, "load", lambda name: table)
    out = retrained_accuracy("digits", "quickstart", OPS, None)
    row = table.index(list(OPS))
    assert out["test_accuracy"] == test[row].mean() and out["test_sd"] == test[row].std(ddof=1)
    assert "benchmark table 'quickstart_digits' (3 seeds" in out["source"]
    assert retrained_accuracy("cifar10", "quickstart", OPS, None)["test_accuracy"] is None
