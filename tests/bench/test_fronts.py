"""The hardware side of a table: problems from table + prices, true fronts stored with the table."""

import dataclasses
import itertools

import numpy as np
import pytest

from dianjax.analysis.front import pareto_front
from dianjax.bench import recipe
from dianjax.bench.fronts import METRICS, hardware_section, problem, table_prices
from dianjax.bench.networks import enumerate_networks
from dianjax.bench.prices import Prices, stale_reason
from dianjax.bench.table import BenchTable, load
from dianjax.cost.hardware_space import HardwareSpace
from dianjax.nas.search_space import get_space

SMALL_HW = HardwareSpace(rows=[8, 16], cols=[8, 32], dataflow=["ws", "os"], ifmap_sram_kb=[16],
                         filter_sram_kb=[16], ofmap_sram_kb=[16],
                         dram_bandwidth_words_per_cycle=[4.0, 32.0])


@pytest.fixture(scope="module")
def table():
    networks = enumerate_networks(get_space("quickstart"))
    rng = np.random.default_rng(0)
    accuracy = rng.uniform(0.9, 0.99, (len(networks), 1)) + rng.normal(0, 0.005, (1, 3))
    return BenchTable(name="synthetic", recipe=recipe.get_recipe("quickstart_digits"),
                      op_names=get_space("quickstart").op_names, networks=networks,
                      num_params=np.ones(len(networks), int), macs=np.ones(len(networks), int),
                      val_accuracy=accuracy, test_accuracy=accuracy - 0.01,
                      wall_s=np.full(len(networks), 30.0), machine="test")


def test_fronts_stored_with_the_table_are_the_brute_force_fronts(table, tmp_path):
    prices = table_prices(table, tmp_path / "prices.npz", hardware=SMALL_HW)
    assert (tmp_path / "prices.npz").exists()
    again = table_prices(table, tmp_path / "prices.npz", hardware=SMALL_HW)  # read back
    np.testing.assert_array_equal(again.edp_pj_s, prices.edp_pj_s)
    section = hardware_section(table, prices)
    assert set(section["fronts"]) == set(METRICS)
    pairs = np.array(list(itertools.product(range(table.num_networks),
                                            range(SMALL_HW.num_accelerators))))
    for metric in METRICS:
        cost = prices.metric(metric)[pairs[:, 0], pairs[:, 1]]
        front = pairs[pareto_front(np.stack([table.val_mean[pairs[:, 0]], cost], 1),
                                   [True, False])]
        stored = section["fronts"][metric]
        # ties in cost among a network's accelerators: the front keeps every tied pair, the stored
        # front one of them; compare networks and costs
        assert sorted({int(n) for n in front[:, 0]}) == sorted(p["network"] for p in stored)
        for point in stored:
            assert point[metric] == pytest.approx(prices.metric(metric)[point["network"]].min())
            accelerator = list(SMALL_HW.accelerators())[point["accelerator_index"]]
            assert prices.metric(metric)[point["network"], point["accelerator_index"]] == \
                point[metric]
            assert {k: getattr(accelerator, k) for k in SMALL_HW.knobs} == point["accelerator"]
    path = tmp_path / "table.json"
    table.with_hardware(section).save(path)
    assert load(path).hardware["fronts"]["edp_pj_s"] == section["fronts"]["edp_pj_s"]


def test_problem_charges_one_seed_of_training_and_the_measured_price(table, tmp_path):
    prices = table_prices(table, None, hardware=SMALL_HW)
    task = problem(table, prices, "latency_s")
    assert task.network_choices == (5, 5, 4, 5) and task.num_accelerators == 16
    np.testing.assert_allclose(task.train_s, 10.0)  # 30 s for 3 seeds
    assert task.price_s == prices.price_s > 0
    np.testing.assert_array_equal(task.cost, prices.latency_s)
    with pytest.raises(ValueError, match="metric must be one of"):
        problem(table, prices, "edp")


def test_a_priced_table_charges_its_recorded_price_on_its_own_hardware_space_only(table):
    prices = table_prices(table, None, hardware=SMALL_HW)
    recorded = table.with_hardware({**hardware_section(table, prices),
                                    "price_s": prices.price_s * 3})
    assert problem(recorded, prices, "edp_pj_s").price_s == prices.price_s * 3
    other = table.with_hardware({**hardware_section(table, prices), "price_s": 1.0,
                                 "hardware_space": HardwareSpace().to_dict()})
    assert problem(other, prices, "edp_pj_s").price_s == prices.price_s


def test_a_cache_priced_by_another_cost_model_is_repriced(table, tmp_path, capsys):
    """A prices cache whose probe no longer matches today's cost model (as after a change to the
    memory or energy model) is recomputed, not read: its doctored figures do not come back."""
    path = tmp_path / "prices.npz"
    fresh = table_prices(table, path, hardware=SMALL_HW)
    assert stale_reason(fresh) is None
    doctored = dataclasses.replace(fresh, edp_pj_s=fresh.edp_pj_s * 2, probe=fresh.probe * 1.01)
    doctored.save(path)
    assert "cost model has changed" in stale_reason(Prices.load(path))
    again = table_prices(table, path, hardware=SMALL_HW)
    assert "repricing" in capsys.readouterr().err
    np.testing.assert_array_equal(again.edp_pj_s, fresh.edp_pj_s)
    assert stale_reason(Prices.load(path)) is None
