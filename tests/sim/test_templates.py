"""The hardware-template registry of sim: lookup by name and by architecture, and dispatch."""

import pytest

from sim import (TEMPLATES, Accelerator, Layer, Mapping, get_template, resnet20, simulate_layer,
                 simulate_network, template_of)
from sim.energy import EnergyTable
from sim.systolic import simulator as systolic_simulator


def test_registry_names_the_systolic_template():
    template = get_template("systolic")
    assert list(TEMPLATES) == ["systolic", "crossbar", "loopnest"]
    assert template.architecture is Accelerator and template.mapping is Mapping
    assert template_of(Accelerator()) is template
    with pytest.raises(ValueError, match=r"hardware template must be one of "
                                         r"\['crossbar', 'loopnest', 'systolic'\], got 'x'"):
        get_template("x")
    with pytest.raises(ValueError, match="accelerator must be a sim.Accelerator .*got dict"):
        template_of({"rows": 8})


def test_entry_points_dispatch_to_the_template():
    layer = Layer.conv("c", C=8, M=16, H=9, W=9, kernel=3, stride=2)
    accelerator = Accelerator(rows=4, cols=8, dataflow="is", ifmap_sram_kb=1, filter_sram_kb=1,
                              ofmap_sram_kb=1, dram_bandwidth_words_per_cycle=2)
    mapping = Mapping("row_outer")
    direct = systolic_simulator.simulate_layer(layer, accelerator, mapping, EnergyTable())
    assert simulate_layer(layer, accelerator, mapping) == direct
    report = simulate_network(resnet20(), accelerator, mapping)
    assert type(report) is get_template("systolic").network_report
    assert [r.fold_order for r in report.layers] == ["row_outer"] * len(resnet20())


def test_renamed_fields_fail_naming_the_new_name():
    data = Accelerator().to_dict()
    data["dram_bandwidth"] = data.pop("dram_bandwidth_words_per_cycle")
    with pytest.raises(ValueError, match=r"Accelerator.dram_bandwidth was renamed to "
                                         r"Accelerator.dram_bandwidth_words_per_cycle"):
        Accelerator.from_dict(data)
