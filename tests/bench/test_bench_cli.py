"""``dianjax bench status|price|rank`` on a small table: what they print, write and refuse."""

import json

import numpy as np
import pytest

from dianjax.bench import build, load, recipe
from dianjax.bench.cli import main
from dianjax.bench.networks import enumerate_networks
from dianjax.bench.table import BenchTable
from dianjax.nas.search_space import get_space

TABLE = "quickstart_digits"


@pytest.fixture
def synthetic_table(tmp_path):
    """Every network of the quickstart space with made-up accuracies (2 seeds), the best one 0.99."""
    space = get_space("quickstart")
    networks = enumerate_networks(space)
    val = np.random.default_rng(0).uniform(0.8, 0.95, (len(networks), 2))
    val[123] = 0.99
    table = BenchTable(
        name=TABLE, recipe=recipe.get_recipe(TABLE), op_names=space.op_names, networks=networks,
        num_params=np.ones(len(networks), int), macs=np.ones(len(networks), int),
        val_accuracy=val, test_accuracy=val - 0.01, wall_s=np.full(len(networks), 10.0),
        machine="test")
    path = tmp_path / "table.json"
    table.save(path)
    return path


def test_price_then_rank_store_fronts_and_rank_figures(synthetic_table, tmp_path, capsys):
    common = ["--table", TABLE, "--to", str(synthetic_table), "--out", str(tmp_path)]
    assert main(["rank", *common]) == 2  # not priced yet
    assert "run dianjax bench price" in capsys.readouterr().err
    assert main(["price", *common]) == 0
    out = capsys.readouterr().out
    assert "true front (val accuracy, edp_pj_s)" in out
    fronts = load(synthetic_table).hardware["fronts"]
    for points in fronts.values():  # the most accurate network ends every front
        assert max(points, key=lambda p: p["val_mean"])["network"] == 123
    assert main(["rank", *common, "--pairs", "500"]) == 0
    out = capsys.readouterr().out
    assert "latency_s  Spearman rho" in out and "energy_pj  Kendall tau-b" in out
    assert (tmp_path / TABLE / "rank_similarity.png").stat().st_size > 0
    ranks = load(synthetic_table).hardware["rank_similarity"]
    assert ranks["sampled_pairs"] == 500 and ranks["latency_s"]["spearman"]["pairs"] == 500
    assert -1 <= ranks["energy_pj"]["kendall_tau_b"]["median"] <= 1
    assert "fronts" in load(synthetic_table).hardware  # rank keeps the fronts


def test_status_reports_progress_and_separability(tmp_path, capsys):
    shard = tmp_path / TABLE / "shard-1-of-1.jsonl"
    shard.parent.mkdir()
    header = {"format_version": build.FORMAT_VERSION, "table": TABLE,
              "recipe": recipe.get_recipe(TABLE).to_dict(), "shard": [1, 1], "machine": "test"}
    rows = [{"network": n, "op_indices": [0, 0, 0, n], "ops": [], "num_params": 1, "macs": 1,
             "val_accuracy": [0.9 + 0.02 * n, 0.91 + 0.02 * n, 0.9 + 0.02 * n, 0.91 + 0.02 * n,
                              0.905 + 0.02 * n],
             "test_accuracy": [0.9] * 5, "wall_s": 10.0, "compile_s": 0.0} for n in range(3)]
    shard.write_text("\n".join(json.dumps(r) for r in [header, *rows]) + "\n")
    assert main(["status", "--table", TABLE, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{TABLE}: 3/500 networks built (test)" in out
    assert "val: means 0.0400 range, between-network sd 0.0200" in out


def test_a_row_with_another_number_of_seeds_is_refused(tmp_path):
    shard = tmp_path / TABLE / "shard-1-of-1.jsonl"
    shard.parent.mkdir()
    header = {"format_version": build.FORMAT_VERSION, "table": TABLE,
              "recipe": recipe.get_recipe(TABLE).to_dict(), "shard": [1, 1]}
    row = {"network": 0, "op_indices": [0, 0, 0, 0], "val_accuracy": [0.9, 0.9],
           "test_accuracy": [0.9, 0.9], "wall_s": 1.0}
    shard.write_text(json.dumps(header) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(ValueError, match="network 0 has 2 val and 2 test accuracies, its header "
                                         "5 seeds"):
        build.collect(tmp_path, TABLE)
