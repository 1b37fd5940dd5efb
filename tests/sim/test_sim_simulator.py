"""simulate_layer / simulate_network: report consistency, groups, batch, mappings, JSON, errors."""

import json
import math
from pathlib import Path

import pytest

from sim import (
    Accelerator,
    EnergyTable,
    Layer,
    LayerReport,
    Mapping,
    Network,
    NetworkReport,
    resnet20,
    simulate_layer,
    simulate_network,
)
from sim.systolic.energy import accelerator_area_mm2

ACC = Accelerator(rows=8, cols=8, dataflow="ws", ifmap_sram_kb=8, filter_sram_kb=8,
                  ofmap_sram_kb=4, dram_bandwidth_words_per_cycle=4)


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_layer_report_is_consistent(dataflow):
    layer = Layer.conv("c", C=16, M=24, H=12, W=12, kernel=3, stride=1, N=2)
    acc = Accelerator(**{**ACC.to_dict(), "dataflow": dataflow})
    report = simulate_layer(layer, acc)
    assert isinstance(report, LayerReport)
    assert report.total_cycles == report.compute_cycles + report.stall_cycles
    assert report.macs == layer.macs
    assert report.utilization == pytest.approx(layer.macs / (64 * report.total_cycles))
    assert 0 < report.utilization <= 1
    assert report.latency_s == pytest.approx(report.total_cycles / 500e6)
    assert report.energy_pj == pytest.approx(sum(report.energy))
    assert report.area_mm2 == pytest.approx(accelerator_area_mm2(acc, EnergyTable()))
    assert (report.dataflow, report.fold_order) == (dataflow, "col_outer")
    assert all(type(getattr(report, field)) is int for field in
               ("compute_cycles", "stall_cycles", "ifmap_dram_reads", "ofmap_dram_writes"))


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_groups_run_one_after_another(dataflow):
    acc = Accelerator(**{**ACC.to_dict(), "dataflow": dataflow})
    grouped = simulate_layer(Layer.conv("g", C=12, M=24, H=9, W=9, kernel=3, groups=4), acc)
    one = simulate_layer(Layer.conv("g", C=3, M=6, H=9, W=9, kernel=3), acc)
    for field in ("compute_cycles", "stall_cycles", "macs", "folds", "ifmap_sram_reads",
                  "filter_sram_reads", "ofmap_sram_writes", "ifmap_dram_reads",
                  "filter_dram_reads", "ofmap_dram_reads", "ofmap_dram_writes"):
        assert getattr(grouped, field) == 4 * getattr(one, field), field
    assert grouped.energy_pj == pytest.approx(4 * one.energy_pj)


def test_batch_folds_into_output_pixels():
    layer = Layer.conv("c", C=4, M=4, H=4, W=4, kernel=3)
    acc = Accelerator(rows=16, cols=4, dataflow="os")
    # os: S_r = N * 16 output pixels, one row fold of 16 per image
    assert simulate_layer(layer.with_batch(3), acc).folds == 3 * simulate_layer(layer, acc).folds


def test_mapping_changes_traffic_not_compute():
    layer = Layer.conv("c", C=8, M=64, H=16, W=16, kernel=3)
    acc = Accelerator(rows=8, cols=8, dataflow="os", ifmap_sram_kb=4, filter_sram_kb=4,
                      ofmap_sram_kb=4)
    col_outer = simulate_layer(layer, acc, Mapping("col_outer"))
    row_outer = simulate_layer(layer, acc, Mapping("row_outer"))
    assert col_outer.compute_cycles == row_outer.compute_cycles
    assert col_outer.ifmap_sram_reads == row_outer.ifmap_sram_reads
    assert col_outer.dram_words != row_outer.dram_words
    assert row_outer.fold_order == "row_outer"


def test_network_totals_are_sums_of_layers():
    report = simulate_network(resnet20(), ACC)
    assert isinstance(report, NetworkReport)
    assert len(report.layers) == 20
    assert report.macs == resnet20().macs == 40_551_040
    assert report.total_cycles == sum(layer.total_cycles for layer in report.layers)
    assert report.energy_pj == pytest.approx(sum(layer.energy_pj for layer in report.layers))
    assert report.energy.dram_pj == pytest.approx(sum(layer.energy.dram_pj for layer in report.layers))
    assert report.latency_s == pytest.approx(report.total_cycles / 500e6)
    assert report.utilization == pytest.approx(report.macs / (64 * report.total_cycles))


def test_network_mappings_per_layer():
    network = Network("two", (Layer.conv("a", C=8, M=64, H=16, W=16, kernel=3),
                              Layer.fc("b", 64, 10)))
    acc = Accelerator(rows=8, cols=8, dataflow="os", ifmap_sram_kb=4, filter_sram_kb=4,
                      ofmap_sram_kb=4)
    report = simulate_network(network, acc, {"a": Mapping("row_outer")})
    assert [layer.fold_order for layer in report.layers] == ["row_outer", "col_outer"]
    assert report.layers[0] == simulate_layer(network.layers[0], acc, Mapping("row_outer"))
    everywhere = simulate_network(network, acc, Mapping("row_outer"))
    assert {layer.fold_order for layer in everywhere.layers} == {"row_outer"}


def test_json_report_round_trips(tmp_path):
    acc = Accelerator(**{**ACC.to_dict(), "dram_bandwidth_words_per_cycle": math.inf})
    report = simulate_network(resnet20(), acc)
    path = tmp_path / "report.json"
    report.save_json(path)
    data = json.loads(path.read_text())
    assert data == json.loads(json.dumps(report.to_dict()))
    assert data["accelerator"]["dram_bandwidth_words_per_cycle"] == "inf"
    assert data["totals"]["total_cycles"] == report.total_cycles
    assert data["totals"]["stall_cycles"] == 0
    assert data["totals"]["energy"]["total_pj"] == pytest.approx(report.energy_pj)
    assert [layer["name"] for layer in data["layers"]] == [layer.name for layer in resnet20()]
    assert data["layers"][0]["energy_pj"] == pytest.approx(report.layers[0].energy_pj)


@pytest.mark.parametrize("call, message", [
    (lambda: simulate_layer({"C": 3}, ACC), "layer must be a sim.Layer, got dict"),
    (lambda: simulate_layer(Layer.fc("f", 4, 4), "acc.json"),
     "accelerator must be a sim.Accelerator .*, got str"),
    (lambda: simulate_layer(Layer.fc("f", 4, 4), ACC, "row_outer"),
     "mapping must be a sim.Mapping or None"),
    (lambda: simulate_layer(Layer.fc("f", 4, 4), ACC, energy_table={}),
     "energy_table must be a sim.EnergyTable or None, got dict"),
    (lambda: simulate_network([Layer.fc("f", 4, 4)], ACC), "network must be a sim.Network, got list"),
    (lambda: simulate_network(resnet20(), ACC, {"conv9": Mapping()}),
     r"mappings names unknown layer\(s\) \['conv9'\]; allowed: layers of 'resnet20'"),
    (lambda: simulate_network(resnet20(), ACC, {"conv1": "row_outer"}),
     r"mappings\['conv1'\] must be a sim.Mapping or None"),
    (lambda: simulate_network(resnet20(), ACC, ["row_outer"]),
     "mappings must be a sim.Mapping, a dict of them by layer name or None, got list"),
    (lambda: Mapping("zigzag"),
     r"Mapping.fold_order must be one of \['col_outer', 'row_outer'\], got 'zigzag'"),
    (lambda: Mapping.from_dict({"order": "col_outer"}), r"Mapping got unknown field\(s\) \['order'\]"),
])
def test_rejects_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


_USER_CASES = json.loads((Path(__file__).parents[1] / "data" /
                          "scalesim_user_reference.json").read_text())["cases"]


@pytest.mark.parametrize("case", [c for c in _USER_CASES if c["per_group"]["stall_cycles"] > 0][:6],
                         ids=lambda c: f"{c['layer']['name']}-{c['accelerator']['dataflow']}")
def test_scalesim_memory_model_reports_scalesims_stalls_and_dram(case):
    """simulate_layer(memory_model="scalesim") carries SCALE-Sim's own USER-mode figures (recorded
    from SCALE-Sim 3.0.0) into the report; compute cycles and SRAM counts do not change."""
    layer, acc = Layer.from_dict(case["layer"]), Accelerator.from_dict(case["accelerator"])
    theirs = simulate_layer(layer, acc, memory_model="scalesim")
    ours = simulate_layer(layer, acc)
    expected = {name: layer.groups * case["per_group"][name] for name in
                ("stall_cycles", "ifmap_dram_reads", "filter_dram_reads", "ofmap_dram_writes")}
    assert {name: getattr(theirs, name) for name in expected} == expected
    assert theirs.ofmap_dram_reads == 0                   # SCALE-Sim never reads partial sums back
    assert theirs.total_cycles == theirs.compute_cycles + theirs.stall_cycles
    for name in ("compute_cycles", "ifmap_sram_reads", "filter_sram_reads", "ofmap_sram_writes"):
        assert getattr(theirs, name) == getattr(ours, name), name


def test_memory_model_is_checked_before_work():
    with pytest.raises(ValueError, match=r"simulate_layer.memory_model must be one of "
                                         r"\['ours', 'scalesim'\], got 'ramulator'"):
        simulate_layer(Layer.fc("f", 4, 4), ACC, memory_model="ramulator")
    with pytest.raises(ValueError, match=r"simulate_network.memory_model must be one of"):
        simulate_network(resnet20(), ACC, memory_model="ramulator")
    with pytest.raises(ValueError, match="dram_bandwidth_words_per_cycle=2.5 is not representable"):
        simulate_layer(Layer.fc("f", 4, 4), Accelerator(dram_bandwidth_words_per_cycle=2.5),
                       memory_model="scalesim")
