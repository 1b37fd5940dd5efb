"""dianjax.cost.evaluate against sim: exact under x64, float32 error bounds, vmap, networks, errors."""

import math

import chex
import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dianjax import cost
from dianjax.cost.hardware_space import HardwareDesign, HardwareSpace
from sim import (DATAFLOWS, FOLD_ORDERS, Accelerator, EnergyTable, Layer, Mapping, Network,
                 mobilenetv2, resnet20, simulate_layer, simulate_network)

EVALUATE = jax.jit(cost.evaluate, static_argnames="energy_table")
COUNTS = ("compute_cycles", "stall_cycles", "total_cycles", "macs", "folds", "ifmap_sram_reads",
          "filter_sram_reads", "ofmap_sram_writes", "ofmap_sram_reads", "ifmap_dram_reads",
          "filter_dram_reads", "ofmap_dram_reads", "ofmap_dram_writes")
ENERGIES = ("mac_pj", "register_pj", "ifmap_sram_pj", "filter_sram_pj", "ofmap_sram_pj", "dram_pj",
            "dram_interface_pj", "leakage_pj")
STALL_DEPENDENT = ("stall_cycles", "total_cycles", "latency_s", "utilization", "leakage_pj",
                   "energy_pj")


@st.composite
def layers(draw):
    """Convs, grouped, depthwise, pointwise and FC layers with strides, padding and batch N > 1."""
    kind = draw(st.sampled_from(["conv", "grouped", "depthwise", "pointwise", "fc"]))
    N = draw(st.integers(1, 3))
    if kind == "fc":
        return Layer.fc("l", draw(st.integers(1, 600)), draw(st.integers(1, 300)), N=N)
    if kind == "depthwise":
        groups = C = M = draw(st.integers(1, 96))
    elif kind == "grouped":
        groups = draw(st.integers(2, 6))
        C, M = groups * draw(st.integers(1, 12)), groups * draw(st.integers(1, 12))
    else:
        groups, C, M = 1, draw(st.integers(1, 128)), draw(st.integers(1, 128))
    H, W, padding = draw(st.integers(1, 40)), draw(st.integers(1, 40)), draw(st.integers(0, 3))
    R, S = (1, 1) if kind == "pointwise" else (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    return Layer("l", C=C, M=M, H=H, W=W, R=min(R, H + 2 * padding), S=min(S, W + 2 * padding),
                 stride=draw(st.integers(1, 3)), padding=padding, groups=groups, N=N)


@st.composite
def accelerators(draw):
    """Arrays from 1x1 to 128x128, every dataflow, tiny to large SRAMs, finite and infinite DRAM."""
    kb = st.sampled_from([0.0078125, 0.25, 0.5, 1.0, 1.5, 4.0, 16.0, 48.0, 128.0, 1000.0])
    return Accelerator(rows=draw(st.integers(1, 128)), cols=draw(st.integers(1, 128)),
                       dataflow=draw(st.sampled_from(DATAFLOWS)), ifmap_sram_kb=draw(kb),
                       filter_sram_kb=draw(kb), ofmap_sram_kb=draw(kb),
                       dram_bandwidth_words_per_cycle=draw(st.sampled_from([0.25, 1.0, 3.0, 16.0,
                                                                            64.0, math.inf])),
                       word_bits=draw(st.sampled_from([8, 16, 32])),
                       clock_mhz=draw(st.sampled_from([100.0, 500.0, 1234.5])))


def _evaluate_one(layer, accelerator, fold_order, energy_table=None):
    report = EVALUATE(cost.layer_arrays([layer]), cost.accelerator_arrays(accelerator),
                      np.array([fold_order], np.int32), energy_table=energy_table)
    return {field: float(np.asarray(value).reshape(-1)[0])
            for field, value in report._asdict().items()}


def _sim_fields(report):
    fields = {field: getattr(report, field) for field in COUNTS}
    fields.update(report.energy._asdict(), energy_pj=report.energy_pj, latency_s=report.latency_s,
                  utilization=report.utilization, area_mm2=report.area_mm2)
    return fields


@settings(max_examples=300, deadline=None)
@given(layers(), accelerators(), st.sampled_from(range(len(FOLD_ORDERS))))
def test_evaluate_equals_sim_exactly_under_x64(layer, accelerator, fold_order):
    with jax.enable_x64(True):
        ours = _evaluate_one(layer, accelerator, fold_order)
    expected = _sim_fields(simulate_layer(layer, accelerator, Mapping(FOLD_ORDERS[fold_order])))
    for field in COUNTS:
        assert ours[field] == expected[field], field
    for field in (*ENERGIES, "energy_pj", "latency_s", "utilization", "area_mm2"):
        # XLA turns a division by a scalar into a product with its reciprocal: the last bit may differ.
        assert ours[field] == pytest.approx(expected[field], rel=1e-15, abs=0), field


@settings(max_examples=300, deadline=None)
@given(layers(), accelerators(), st.sampled_from(range(len(FOLD_ORDERS))))
def test_evaluate_float32_error_bounds(layer, accelerator, fold_order):
    ours = _evaluate_one(layer, accelerator, fold_order)
    expected = _sim_fields(simulate_layer(layer, accelerator, Mapping(FOLD_ORDERS[fold_order])))
    for field, value in expected.items():
        if field not in STALL_DEPENDENT:
            assert ours[field] == pytest.approx(value, rel=1e-6, abs=0), field
    # Each fold's stall (and the first load and last drain) is the ceil of a float32 quotient,
    # which may be one cycle off, and above 2**24 cycles float32 itself cannot hold every integer
    # (its spacing there is 2 or more).
    spacing = float(np.spacing(np.float32(expected["stall_cycles"])))
    off = layer.groups * (expected["folds"] / layer.groups + 2)
    assert abs(ours["stall_cycles"] - expected["stall_cycles"]) <= off + 2 * spacing
    total = expected["total_cycles"]
    bound = off / total + 1e-6
    assert ours["total_cycles"] == pytest.approx(total, rel=bound)
    assert ours["latency_s"] == pytest.approx(expected["latency_s"], rel=bound)
    assert ours["utilization"] == pytest.approx(expected["utilization"], rel=2 * bound)
    # leakage runs for every cycle, stalls included
    assert ours["leakage_pj"] == pytest.approx(expected["leakage_pj"], rel=bound)
    assert ours["energy_pj"] == pytest.approx(expected["energy_pj"], rel=bound)


def _kendall_tau(a, b):
    sign = np.sign(a[:, None] - a[None, :]) * np.sign(b[:, None] - b[None, :])
    n = len(a)
    return sign[np.triu_indices(n, 1)].sum() / (n * (n - 1) / 2)


def test_float32_total_cycles_mape_and_rank_over_600_pairs():
    """The issue's criterion for total cycles where not exact: MAPE < 5%, Kendall tau >= 0.95."""
    rng = np.random.default_rng(0)
    ours, truth = [], []
    for _ in range(600):
        groups = int(rng.choice([1, 1, 2, 4]))
        layer = Layer("l", C=groups * int(rng.integers(1, 40)), M=groups * int(rng.integers(1, 40)),
                      H=int(rng.integers(1, 33)), W=int(rng.integers(1, 33)), R=1, S=1,
                      stride=int(rng.integers(1, 3)), groups=groups, N=int(rng.integers(1, 3)))
        accelerator = Accelerator(rows=int(rng.integers(1, 65)), cols=int(rng.integers(1, 65)),
                                  dataflow=str(rng.choice(DATAFLOWS)),
                                  ifmap_sram_kb=float(rng.choice([0.25, 2.0, 32.0])),
                                  filter_sram_kb=float(rng.choice([0.25, 2.0, 32.0])),
                                  ofmap_sram_kb=float(rng.choice([0.25, 2.0, 32.0])),
                                  dram_bandwidth_words_per_cycle=float(rng.choice([0.5, 2.0, 8.0])))
        order = int(rng.integers(0, 2))
        ours.append(_evaluate_one(layer, accelerator, order)["total_cycles"])
        truth.append(simulate_layer(layer, accelerator, Mapping(FOLD_ORDERS[order])).total_cycles)
    ours, truth = np.array(ours), np.array(truth, np.float64)
    assert np.mean(np.abs(ours - truth) / truth) < 0.05
    assert _kendall_tau(ours, truth) >= 0.95


@pytest.mark.parametrize("network", [resnet20(), mobilenetv2(batch=2)], ids=lambda n: n.name)
@pytest.mark.parametrize("accelerator", [
    Accelerator(rows=16, cols=16, dataflow="os", dram_bandwidth_words_per_cycle=8),
    Accelerator(rows=8, cols=32, dataflow="ws", ifmap_sram_kb=4, filter_sram_kb=2,
                ofmap_sram_kb=1, dram_bandwidth_words_per_cycle=2),
    Accelerator(rows=64, cols=4, dataflow="is", dram_bandwidth_words_per_cycle=math.inf,
                word_bits=8),
], ids=["os", "ws", "is"])
def test_network_totals_equal_simulate_network(network, accelerator):
    orders = {layer.name: Mapping(FOLD_ORDERS[i % 2]) for i, layer in enumerate(network)}
    with jax.enable_x64(True):
        report = EVALUATE(cost.layer_arrays(network), cost.accelerator_arrays(accelerator),
                          cost.fold_order_indices(network, orders))
        totals = {k: float(v) for k, v in cost.network_cost(report).items()}
    expected = simulate_network(network, accelerator, orders)
    for field in ("compute_cycles", "stall_cycles", "total_cycles", "macs", "dram_words"):
        assert totals[field] == getattr(expected, field), field
    for field in ("latency_s", "energy_pj", "area_mm2", "utilization"):
        assert totals[field] == pytest.approx(getattr(expected, field), rel=1e-13), field
    for field, value in expected.energy._asdict().items():
        assert totals[field] == pytest.approx(value, rel=1e-13), field
    assert totals["edp_pj_s"] == pytest.approx(expected.energy_pj * expected.latency_s, rel=1e-13)
    assert totals["edap_pj_s_mm2"] == pytest.approx(
        expected.energy_pj * expected.latency_s * expected.area_mm2, rel=1e-13)


def test_vmap_over_accelerators_equals_one_at_a_time():
    network = resnet20()
    accelerators = [Accelerator(rows=r, cols=c, dataflow=d, dram_bandwidth_words_per_cycle=b)
                    for r, c, d, b in [(8, 8, "ws", 4.0), (32, 16, "os", 16.0), (16, 64, "is", 2.0),
                                       (4, 4, "os", math.inf)]]
    arrays = cost.layer_arrays(network)
    batched = jax.jit(jax.vmap(cost.evaluate, in_axes=(None, 0, None)))(
        arrays, cost.stack_accelerators(accelerators), np.ones(len(network), np.int32))
    for index, accelerator in enumerate(accelerators):
        one = EVALUATE(arrays, cost.accelerator_arrays(accelerator), np.ones(len(network), np.int32))
        for field in cost.CostReport._fields:
            np.testing.assert_array_equal(getattr(batched, field)[index], getattr(one, field))


def test_vmap_over_layers_equals_batched_layers():
    network = mobilenetv2()
    arrays = cost.layer_arrays(network)
    accelerator = cost.accelerator_arrays(Accelerator(rows=16, cols=8, dataflow="ws"))
    orders = np.arange(len(network), dtype=np.int32) % 2
    mapped = jax.jit(jax.vmap(cost.evaluate, in_axes=(0, None, 0)))(arrays, accelerator, orders)
    batched = EVALUATE(arrays, accelerator, orders)
    for field in cost.CostReport._fields:
        if field != "area_mm2":
            np.testing.assert_allclose(getattr(mapped, field), getattr(batched, field), rtol=1e-6)
    np.testing.assert_allclose(mapped.area_mm2, np.full(len(network), batched.area_mm2), rtol=1e-6)


def test_space_accelerators_follow_the_space_order():
    space = HardwareSpace(rows=(4, 8), cols=(8,), dataflow=("os", "is"), ifmap_sram_kb=(1, 2),
                          filter_sram_kb=(4,), ofmap_sram_kb=(2, 8),
                          dram_bandwidth_words_per_cycle=(1.0, math.inf))
    stacked = cost.space_accelerators(space)
    expected = cost.stack_accelerators(list(space.accelerators()))
    assert len(stacked.rows) == space.num_accelerators == 32
    for field in cost.AcceleratorArrays._fields:
        np.testing.assert_array_equal(getattr(stacked, field), getattr(expected, field), field)


def test_default_fold_order_and_custom_energy_table():
    layer = Layer.conv("c", C=32, M=48, H=14, W=14, kernel=3, N=2)
    accelerator = Accelerator(rows=8, cols=8, dataflow="os", ifmap_sram_kb=1, filter_sram_kb=1,
                              ofmap_sram_kb=1, dram_bandwidth_words_per_cycle=2)
    table = EnergyTable(dram_energy_pj_per_64bit=640.0, sram_energy_size_exponent=0.3,
                        mult_area_um2=1000.0)
    report = EVALUATE(cost.layer_arrays([layer]), cost.accelerator_arrays(accelerator),
                      energy_table=table)
    expected = simulate_layer(layer, accelerator, energy_table=table)
    assert float(report.energy_pj[0]) == pytest.approx(expected.energy_pj, rel=1e-6)
    assert float(report.area_mm2) == pytest.approx(expected.area_mm2, rel=1e-6)
    assert float(report.total_cycles[0]) == expected.total_cycles


def test_design_cost_equals_the_simulator():
    network = resnet20()
    accelerator = Accelerator(rows=16, cols=32, dataflow="ws", ifmap_sram_kb=8,
                              dram_bandwidth_words_per_cycle=4)
    orders = {layer.name: FOLD_ORDERS[i % 2] for i, layer in enumerate(network)}
    design = HardwareDesign(accelerator, orders)
    predicted = cost.design_cost(network, design)
    report = simulate_network(network, accelerator, design.mappings(network))
    assert all(isinstance(value, float) for value in predicted.values())
    for key, value in (("latency_s", report.latency_s), ("energy_pj", report.energy_pj),
                       ("area_mm2", report.area_mm2),
                       ("edp_pj_s", report.energy_pj * report.latency_s),
                       ("total_cycles", report.total_cycles), ("utilization", report.utilization)):
        assert predicted[key] == pytest.approx(value, rel=1e-5), key


def test_bad_inputs_raise_value_errors_naming_them():
    layer = Layer.conv("c", C=4, M=4, H=4, W=4, kernel=3)
    with pytest.raises(ValueError, match=r"layers\[1\] must be a sim.Layer"):
        cost.layer_arrays([layer, "conv"])
    with pytest.raises(ValueError, match="at least one"):
        cost.layer_arrays([])
    with pytest.raises(ValueError, match="LayerArrays.pixels=.* allowed"):
        cost.layer_arrays([Layer.fc("huge", 8, 8, N=2 ** 30)])
    with pytest.raises(ValueError, match="accelerator must be a sim.Accelerator"):
        cost.accelerator_arrays({"rows": 8})
    with pytest.raises(ValueError, match="AcceleratorArrays.rows=.* allowed"):
        cost.accelerator_arrays(Accelerator(rows=2 ** 17))
    with pytest.raises(ValueError, match="AcceleratorArrays.cols=.* allowed"):
        cost.space_accelerators(HardwareSpace(cols=(8, 2 ** 17)))
    with pytest.raises(ValueError, match=r"no sim.Mapping for layer\(s\) \['fc'\]"):
        cost.fold_order_indices(Network("two", (layer, Layer.fc("fc", 4, 2))), {"c": Mapping()})
    arrays = cost.layer_arrays([layer])
    accelerator = cost.accelerator_arrays(Accelerator())
    with pytest.raises(ValueError, match="layers must be a LayerArrays"):
        cost.evaluate(layer, accelerator)
    with pytest.raises(ValueError, match="accelerator must be an AcceleratorArrays"):
        cost.evaluate(arrays, Accelerator())
    with pytest.raises(ValueError, match="energy_table must be a sim.EnergyTable"):
        cost.evaluate(arrays, accelerator, energy_table={"mult_energy_pj": 1.0})
    with pytest.raises(ValueError, match="network must be a sim.Network"):
        cost.design_cost([layer], HardwareDesign(Accelerator(), {}))
    with pytest.raises(ValueError, match="design must be a dianjax.cost.HardwareDesign"):
        cost.design_cost(resnet20(), Accelerator())


def test_a_stacked_accelerator_must_go_through_vmap():
    arrays = cost.layer_arrays([Layer.conv("c", C=4, M=4, H=4, W=4, kernel=3)] * 2)
    stacked = cost.stack_accelerators([Accelerator(), Accelerator(rows=8)])
    with pytest.raises(AssertionError):
        cost.evaluate(arrays, stacked)
    with pytest.raises(AssertionError):
        cost.evaluate(arrays, cost.accelerator_arrays(Accelerator()), np.zeros(3, np.int32))
    chex.assert_tree_all_finite(cost.evaluate(arrays, cost.accelerator_arrays(Accelerator())))
