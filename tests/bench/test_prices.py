"""dianjax.bench.prices against sim: every pair, the fold rule vs brute force, files, errors."""

import itertools

import numpy as np
import pytest

from dianjax.bench.networks import enumerate_networks
from dianjax.bench.prices import FORMAT_VERSION, Prices, price_networks
from dianjax.cost.hardware_space import HardwareSpace
from dianjax.nas.search_space import get_space, layer_table
from sim import Mapping, simulate_layer, simulate_network

SPACE = get_space("quickstart")
# Small buffers and a slow DRAM, so that fold orders change DRAM traffic and stalls.
HARDWARE = HardwareSpace(rows=(8, 16), cols=(8,), dataflow=("ws", "os", "is"),
                         ifmap_sram_kb=(0.25,), filter_sram_kb=(0.25, 16), ofmap_sram_kb=(0.25,),
                         dram_bandwidth_words_per_cycle=(1.0,))
# All MBConv k3 e1 (11 convs), a mix, all e3 (15 convs) and the fewest convs (skip where allowed).
NETWORK_ROWS = [0, 137, 378, 499]


@pytest.fixture(scope="module")
def priced():
    networks = enumerate_networks(SPACE)[NETWORK_ROWS]
    return price_networks(SPACE, HARDWARE, networks, progress=False)


def _sim_layer_figures(network, accelerator):
    """float[U, L] latency and energy of every layer of ``network`` under every fold order (sim)."""
    reports = [[simulate_layer(layer, accelerator, Mapping(order)) for layer in network]
               for order in HARDWARE.mapping_choices]
    return (np.array([[r.latency_s for r in row] for row in reports]),
            np.array([[r.energy_pj for r in row] for row in reports]))


def _simulate_best(network, accelerator, score):
    """sim's report of ``network`` with every layer at its fold order of least ``score`` [U, L]."""
    best = np.argmin(score, axis=0)
    mappings = {layer.name: Mapping(HARDWARE.mapping_choices[u]) for layer, u in zip(network, best)}
    return simulate_network(network, accelerator, mappings)


def _pairs(prices):
    table = layer_table(SPACE)
    for n, row in enumerate(prices.networks):
        network = table.network(row)
        for a, accelerator in enumerate(HARDWARE.accelerators()):
            yield n, a, network, accelerator


def test_every_pair_equals_sim_with_the_chosen_fold_orders(priced):
    """sim picks each layer's fold order by the documented rule; simulate_network totals it."""
    orders_matter = False
    for n, a, network, accelerator in _pairs(priced):
        latency, energy = _sim_layer_figures(network, accelerator)
        orders_matter |= bool((latency[0] != latency[1]).any())
        fastest, leanest, balanced = (_simulate_best(network, accelerator, score)
                                      for score in (latency, energy, latency * energy))
        edp = min(r.latency_s * r.energy_pj for r in (fastest, leanest, balanced))
        assert priced.latency_s[n, a] == pytest.approx(fastest.latency_s, rel=1e-9, abs=0)
        assert priced.energy_pj[n, a] == pytest.approx(leanest.energy_pj, rel=1e-9, abs=0)
        assert priced.edp_pj_s[n, a] == pytest.approx(edp, rel=1e-9, abs=0)
        assert priced.area_mm2[a] == pytest.approx(fastest.area_mm2, rel=1e-9, abs=0)
        assert priced.edap_pj_s_mm2[n, a] == pytest.approx(edp * fastest.area_mm2, rel=1e-9, abs=0)
    assert orders_matter, "the test space must make fold orders matter somewhere"


def test_fold_rule_against_all_assignments(priced):
    """Latency and energy are the minima over all 2^L assignments; EDP is too (in this space a fold
    order that is best for a layer's latency is never worse for its energy)."""
    for n, a, network, accelerator in _pairs(priced):
        latency, energy = _sim_layer_figures(network, accelerator)
        assignments = np.array(list(itertools.product((0, 1), repeat=len(network))))
        layer = np.arange(len(network))
        total_latency = latency[assignments, layer].sum(axis=1)
        total_energy = energy[assignments, layer].sum(axis=1)
        assert priced.latency_s[n, a] == pytest.approx(total_latency.min(), rel=1e-9, abs=0)
        assert priced.energy_pj[n, a] == pytest.approx(total_energy.min(), rel=1e-9, abs=0)
        true_edp = (total_latency * total_energy).min()
        assert priced.edp_pj_s[n, a] == pytest.approx(true_edp, rel=1e-9, abs=0)


def test_metric_names_and_area_broadcast(priced):
    shape = (len(NETWORK_ROWS), HARDWARE.num_accelerators)
    for name in ("latency_s", "energy_pj", "area_mm2", "edp_pj_s", "edap_pj_s_mm2"):
        assert priced.metric(name).shape == shape
    np.testing.assert_array_equal(priced.metric("area_mm2")[2], priced.area_mm2)
    with pytest.raises(ValueError, match=r"metric must be one of \['latency_s'.*got 'edp'"):
        priced.metric("edp")
    assert priced.price_s > 0


def test_save_load_round_trip_and_mismatches(priced, tmp_path):
    path = tmp_path / "prices.npz"
    priced.save(path)
    loaded = Prices.load(path, SPACE, HARDWARE)
    assert loaded.space == SPACE and loaded.hardware == HARDWARE
    assert loaded.price_s == priced.price_s
    for field in ("networks", "latency_s", "energy_pj", "area_mm2", "edp_pj_s", "edap_pj_s_mm2"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(priced, field))
    with pytest.raises(ValueError, match="hardware space"):
        Prices.load(path, hardware=HardwareSpace())
    with pytest.raises(ValueError, match="search space 'quickstart'.*expected 'cifar'"):
        Prices.load(path, space=get_space("cifar"))
    with np.load(path) as data:
        stale = {**data, "format_version": FORMAT_VERSION + 1}
    np.savez(tmp_path / "stale.npz", **stale)
    with pytest.raises(ValueError, match="format version"):
        Prices.load(tmp_path / "stale.npz")


def test_bad_networks_are_rejected():
    with pytest.raises(ValueError, match=r"networks must be an int array of shape \(N >= 1, 4\)"):
        price_networks(SPACE, HARDWARE, np.zeros((2, 3), np.int64), progress=False)
    with pytest.raises(ValueError, match=r"op_indices\[2\]=4 is not an available op"):
        price_networks(SPACE, HARDWARE, np.array([[0, 0, 4, 0]]), progress=False)
