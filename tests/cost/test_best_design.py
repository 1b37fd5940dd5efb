"""dianjax.cost.best_design against the benchmark's prices (float64) and sim."""

import numpy as np
import pytest

from dianjax import cost
from dianjax.bench.networks import enumerate_networks
from dianjax.bench.prices import price_networks
from dianjax.cost.best_design import NETWORK_CHUNK, best_design, best_designs
from dianjax.nas.search_space import get_space, layer_table
from sim import simulate_network

SPACE = get_space("quickstart")
TABLE = layer_table(SPACE)
# Small buffers and a slow DRAM next to roomy ones, so fold orders and accelerators trade off.
HARDWARE = cost.HardwareSpace(rows=(8, 16), cols=(8, 16), dataflow=("ws", "os", "is"),
                              ifmap_sram_kb=(0.25,), filter_sram_kb=(0.25, 16),
                              ofmap_sram_kb=(0.25,), dram_bandwidth_words_per_cycle=(1.0, 32.0))
NETWORK_ROWS = [0, 137, 378, 499]
OBJECTIVE_FIELDS = {"latency": "latency_s", "energy": "energy_pj", "edp": "edp_pj_s",
                    "area": "area_mm2", "edap": "edap_pj_s_mm2"}


@pytest.fixture(scope="module")
def model():
    return cost.prepare(TABLE, HARDWARE)


@pytest.fixture(scope="module")
def reference():
    return cost.reference_metrics(TABLE, HARDWARE)


@pytest.fixture(scope="module")
def priced():
    return price_networks(SPACE, HARDWARE, enumerate_networks(SPACE)[NETWORK_ROWS], progress=False)


@pytest.mark.parametrize("objective", ["latency", "energy", "edp", "edap"])
def test_best_design_is_the_cheapest_priced_pair(model, reference, priced, objective):
    values = priced.metric(OBJECTIVE_FIELDS[objective])
    for row, ops in enumerate(priced.networks):
        best = best_design(model, ops, objective, reference)
        chosen = list(HARDWARE.accelerators()).index(best.design.accelerator)
        np.testing.assert_allclose(values[row, chosen], values[row].min(), rtol=1e-5)
        np.testing.assert_allclose(getattr(best.metrics, OBJECTIVE_FIELDS[objective]),
                                   values[row].min(), rtol=1e-5)
        assert best.feasible and best.num_feasible == best.num_accelerators == 48


def test_best_design_figures_are_sims(model, reference, priced):
    for ops in priced.networks:
        best = best_design(model, ops, "edp", reference)
        network = TABLE.network(ops)
        report = simulate_network(network, best.design.accelerator,
                                  best.design.mappings(network, TABLE))
        np.testing.assert_allclose([best.metrics.latency_s, best.metrics.energy_pj,
                                    best.metrics.area_mm2],
                                   [report.latency_s, report.energy_pj, report.area_mm2],
                                   rtol=1e-5)


def test_area_limit_picks_the_best_within_it(model, reference, priced):
    areas = np.unique(priced.area_mm2)
    limit = float(areas[len(areas) // 2])
    within = priced.area_mm2 <= limit
    for row, ops in enumerate(priced.networks):
        best = best_design(model, ops, "latency", reference, limits={"area_mm2": limit})
        assert best.feasible and best.metrics.area_mm2 <= limit * (1 + 1e-6)
        assert best.num_feasible == int(within.sum())
        np.testing.assert_allclose(best.metrics.latency_s,
                                   priced.latency_s[row][within].min(), rtol=1e-5)


def test_unreachable_limit_is_reported_not_hidden(model, reference, priced):
    limit = float(priced.latency_s.min()) / 10
    best = best_design(model, priced.networks[0], "edp", reference, limits={"latency_s": limit})
    assert not best.feasible and best.num_feasible == 0
    assert best.metrics.latency_s > limit


def test_bad_network_is_named(model, reference):
    with pytest.raises(ValueError, match="one entry per searchable layer"):
        best_design(model, [0, 0], "edp", reference)
    mask = np.asarray(TABLE.op_mask)
    layer = int(np.flatnonzero(~mask.all(axis=1))[0])
    ops = [int(np.flatnonzero(row)[0]) for row in mask]
    ops[layer] = int(np.flatnonzero(~mask[layer])[0])
    with pytest.raises(ValueError, match=rf"op_indices\[{layer}\]"):
        best_design(model, ops, "edp", reference)
    with pytest.raises(ValueError, match="best_design limits"):
        best_design(model, [int(np.flatnonzero(row)[0]) for row in mask], "edp", reference,
                    limits={"power_w": 1.0})
    with pytest.raises(ValueError, match="objective"):
        best_design(model, [int(np.flatnonzero(row)[0]) for row in mask], "speed", reference)


def test_best_case_of_a_network_is_its_best_accelerator(model, priced):
    for ops in priced.networks:
        one_hot = np.eye(len(TABLE.op_names), dtype=np.float32)[ops]
        best = model.best_case(one_hot)
        row = list(map(tuple, priced.networks)).index(tuple(ops))
        np.testing.assert_allclose(best.latency_s, priced.latency_s[row].min(), rtol=1e-5)
        np.testing.assert_allclose(best.energy_pj, priced.energy_pj[row].min(), rtol=1e-5)
        np.testing.assert_allclose(best.area_mm2, priced.area_mm2.min(), rtol=1e-6)
        # fold orders chosen per factor: never above the benchmark's EDP, equal where they agree
        assert best.edp_pj_s <= priced.edp_pj_s[row].min() * (1 + 1e-5)


def test_best_case_gradient_matches_finite_differences(model):
    import jax

    rng = np.random.default_rng(0)
    mask = np.asarray(TABLE.op_mask, np.float32)
    probs = rng.dirichlet(np.ones(mask.shape[1]), size=mask.shape[0]).astype(np.float32) * mask
    probs /= probs.sum(1, keepdims=True)
    f = lambda p: model.best_case(p).latency_s * 1e6   # noqa: E731  (microseconds)
    grad = np.asarray(jax.grad(f)(probs))
    direction = rng.normal(size=probs.shape).astype(np.float32) * mask
    eps = 1e-3
    numeric = (f(probs + eps * direction) - f(probs - eps * direction)) / (2 * eps)
    np.testing.assert_allclose(np.sum(grad * direction), numeric, rtol=2e-2)


def test_best_designs_of_every_network_are_the_cheapest_priced_pairs(model, reference):
    """Many networks at once (several chunks): each the cheapest priced pair within the limit."""
    networks = enumerate_networks(SPACE)
    assert len(networks) > 3 * NETWORK_CHUNK
    priced = price_networks(SPACE, HARDWARE, networks, progress=False)
    limit = float(np.median(priced.area_mm2))
    within = priced.area_mm2 <= limit
    accelerators = list(HARDWARE.accelerators())
    for objective, limits in (("edp", {}), ("latency", {"area_mm2": limit})):
        field = OBJECTIVE_FIELDS[objective]
        values = np.where(within, priced.metric(field), np.inf) if limits else \
            priced.metric(field)
        designs = best_designs(model, networks, objective, reference, limits=limits)
        assert len(designs) == len(networks)
        for row, best in enumerate(designs):
            chosen = accelerators.index(best.design.accelerator)
            np.testing.assert_allclose(values[row, chosen], values[row].min(), rtol=1e-5)
            np.testing.assert_allclose(getattr(best.metrics, field), values[row].min(),
                                       rtol=1e-5)
            assert best.feasible
